/**
 * The daemon configuration as the code sees it after validation (config/schema.ts turns
 * `configs/onebit.json` or the embedded defaults into this). Every field is filled: the
 * schema supplies the defaults.
 *
 * @module
 */

import type { MqttConfig } from "../fleet/config.ts";

/** Per-plugin serving limits. */
export interface PluginLimits {
  /** Frames one worker runs at once... */
  readonly concurrency: number;
  /** Frames waiting beyond those in flight; more are refused with `queue_full`. */
  readonly queueMax: number;
  /** A frame not done after this many ms fails with `deadline_exceeded` and the worker is restarted. */
  readonly deadlineMs: number;
  /** Kernel threads of the plugin's context; 0 = an even share of `threads`. */
  readonly threads: number;
}

/** A frame source the daemon starts at boot (more can be started over HTTP). */
export interface SourceConfig {
  /** Unique name, `[a-z][a-z0-9_-]{0,39}`. */
  readonly name: string;
  /** Plugin the frames go to. */
  readonly task: string;
  /** `files`: an image file or a folder of them; `ffmpeg`: a video file, /dev/video*, rtsp://. */
  readonly kind: "files" | "ffmpeg";
  /** Path or URL. */
  readonly input: string;
  /** Target frames per second. */
  readonly fps: number;
  /** Start again at the end (files and video files). */
  readonly loop: boolean;
}

/** The whole config. */
export interface Config {
  readonly listen: {
    /** Default `127.0.0.1`. Anything but loopback needs `auth.token`. */
    readonly host: string;
    /** Default 8470; 0 picks a free port (printed at start). */
    readonly port: number;
  };
  readonly auth: {
    /** Bearer token for control routes; `null` = none (loopback only). */
    readonly token: string | null;
  };
  readonly limits: {
    /** Largest request body, bytes. Default 16 MiB. */
    readonly bodyBytesMax: number;
    /** Largest decoded image, pixels. Default 4096 * 4096. */
    readonly imagePixelsMax: number;
  };
  /** Kernel thread budget shared by all plugins; 0 = all cores. */
  readonly threads: number;
  readonly kernels: {
    /** Forced CPU level, or `null` to detect. */
    readonly level: string | null;
    /** Folder of libonebit-<level>.so, or `null` for the default. */
    readonly libDir: string | null;
  };
  readonly plugins: {
    /** Folder holding one folder per plugin. Relative paths are relative to the config file. */
    readonly dir: string;
    /** Plugin folder names to load at start; `["*"]` = every folder with a plugin.json. */
    readonly load: readonly string[];
    /** Hot-swap a plugin when its folder changes (debounced). */
    readonly watch: boolean;
    /** Debounce of the watch, ms. */
    readonly watchDebounceMs: number;
    readonly defaults: PluginLimits;
    /** Per plugin name: limit overrides and option values. */
    readonly overrides: Readonly<
      Record<
        string,
        Partial<PluginLimits> & {
          readonly options?: Readonly<Record<string, number | boolean | string>>;
        }
      >
    >;
  };
  readonly sources: readonly SourceConfig[];
  readonly telemetry: {
    /** Sampling period of power, thermal, CPU and RSS, and of the SSE stream, ms. */
    readonly intervalMs: number;
    /** Sysfs roots (configurable so tests can use fixture trees). */
    readonly powercapRoot: string;
    readonly hwmonRoot: string;
    readonly powerSupplyRoot: string;
    readonly thermalRoot: string;
  };
  /** MQTT store-and-forward of events and telemetry, and fleet commands (daemon/fleet). */
  readonly mqtt: MqttConfig;
  readonly log: {
    readonly level: "debug" | "info" | "warn" | "error";
  };
}
