/**
 * Fleet integration: MQTT store-and-forward of results and telemetry (mqtt.ts over the
 * on-disk spool.ts), fleet commands (commands.ts), the `mqtt` config section (config.ts) and
 * the dashboard page at `/ui` (dashboard_route.ts).
 *
 * @module
 */

export { FleetError, type FleetErrorCode } from "./errors.ts";
export {
  Spool,
  type SpoolCounters,
  type SpoolFullPolicy,
  type SpoolOptions,
  type SpoolRecord,
} from "./spool.ts";
export {
  expandTopic,
  MQTT_CONFIG_DEFAULTS,
  type MqttConfig,
  type MqttConfigInput,
  mqttConfigSchema,
  parseMqttConfig,
  resolveSecret,
} from "./config.ts";
export {
  type MqttMetrics,
  MqttPublisher,
  type MqttPublisherDeps,
  type MqttPublisherOptions,
  startMqttPublisher,
} from "./mqtt.ts";
export {
  type CommandAck,
  type CommandCounters,
  type CommandDeps,
  CommandExecutor,
  type CommandOptions,
  FLEET_COMMANDS,
  type FleetCommandName,
} from "./commands.ts";
export { type DashboardDeps, dashboardRoutes } from "./dashboard_route.ts";
