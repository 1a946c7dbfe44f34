// winston-loki sends two lines: argv url key json(0|1) marker.
const winston = require('winston')
const LokiTransport = require('winston-loki')

const [url, key, json, marker] = process.argv.slice(2)
let failed = false
const transport = new LokiTransport({
  host: url,
  basicAuth: `tenant:${key}`,
  labels: { app: 'winston-app', env: 'ci', host: 'node-host' },
  json: json === '1',
  onConnectionError: (err) => { console.error('connection error', err); failed = true }
})
const logger = winston.createLogger({ transports: [transport] })
logger.warn(`${marker} first`, { orderId: 42 })
logger.error(`${marker} second`)
transport.flush().then(async () => {
  await transport.close()
  process.exit(failed ? 1 : 0)
}, (err) => { console.error(err); process.exit(1) })
