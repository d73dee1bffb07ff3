// The part of pngjs 7 (which ships no types) that the media module uses.

/** Metadata and pixels of a decoded PNG: `data` is always 8-bit RGBA unless skipRescale. */
export interface PngData {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace: boolean;
  palette: boolean;
  color: boolean;
  alpha: boolean;
  data: Uint8Array;
}

/** Options of the sync writer. */
export interface PngWriteOptions {
  colorType?: number;
  inputColorType?: number;
  bitDepth?: number;
  inputHasAlpha?: boolean;
  deflateLevel?: number;
}

/** The PNG class, used here only for its sync helpers. */
export declare const PNG: {
  sync: {
    read(buffer: Uint8Array, options?: { checkCRC?: boolean; skipRescale?: boolean }): PngData;
    write(
      png: { width: number; height: number; data: Uint8Array },
      options?: PngWriteOptions,
    ): Uint8Array;
  };
};
