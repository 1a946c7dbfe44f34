// Sends a few log records with the OpenTelemetry JS SDK: node node_export.cjs http|proto
// URL and KEY come from the environment; prints the export results, exits 1 on a failure.
const { LoggerProvider, BatchLogRecordProcessor } = require("@opentelemetry/sdk-logs");
const { resourceFromAttributes } = require("@opentelemetry/resources");
const { SeverityNumber } = require("@opentelemetry/api-logs");

const kind = process.argv[2];
const { OTLPLogExporter } = require(
  kind === "proto" ? "@opentelemetry/exporter-logs-otlp-proto" : "@opentelemetry/exporter-logs-otlp-http",
);

async function main() {
  const exporter = new OTLPLogExporter({
    url: process.env.URL + "/v1/logs",
    headers: { Authorization: "Bearer " + process.env.KEY },
  });
  const results = [];
  const send = exporter.export.bind(exporter);
  exporter.export = (logs, done) => send(logs, (result) => { results.push(result); done(result); });
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({
      "service.name": "node-" + kind,
      "service.version": "3.2.1",
      "deployment.environment.name": "staging",
    }),
    processors: [new BatchLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger("node-test", "1.0.0");
  logger.emit({
    severityNumber: SeverityNumber.ERROR,
    severityText: "ERROR",
    body: "node order failed",
    attributes: { orderId: "o-17", attempts: 3, "exception.type": "TypeError", "exception.stacktrace": "TypeError: x\n    at main" },
  });
  logger.emit({ severityNumber: SeverityNumber.INFO, body: { event: "node-kvlist", items: [1, 2] } });
  await provider.forceFlush();
  await provider.shutdown();
  console.log(JSON.stringify(results.map((r) => ({ code: r.code, error: r.error ? String(r.error) : null }))));
  if (results.length === 0 || results.some((r) => r.code !== 0)) process.exit(1);
}

main().catch((err) => { console.error(err); process.exit(1); });
