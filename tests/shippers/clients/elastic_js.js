// @elastic/elasticsearch: one bulk of two documents and one single document: argv url key marker.
const { Client } = require('@elastic/elasticsearch')

const [url, key, marker] = process.argv.slice(2)
const client = new Client({ node: url, auth: { apiKey: key } })

async function main () {
  const doc = (text, level) => ({
    '@timestamp': new Date().toISOString(),
    message: `${marker} ${text}`,
    log: { level },
    service: { name: 'js-svc' },
    host: { name: 'js-host' },
    http: { status: 503 }
  })
  const result = await client.bulk({
    operations: [{ index: { _index: 'js-logs' } }, doc('first', 'warn'), { create: { _index: 'js-logs' } }, doc('second', 'error')]
  })
  if (result.errors) throw new Error(JSON.stringify(result.items))
  await client.index({ index: 'js-logs', document: doc('third', 'info') })
  await client.indices.refresh({ index: 'js-logs' })
}
main().catch((err) => { console.error(err); process.exit(1) })
