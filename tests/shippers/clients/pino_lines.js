// Two pino lines on stdout, for the pino-loki CLI: argv marker.
const pino = require('pino')
const marker = process.argv[2]
const logger = pino({ base: { hostname: 'pino-host', pid: 1 } })
logger.info({ meta: { requestId: 'r-1' }, cart: 3 }, `${marker} first`)
logger.error(`${marker} second`)
