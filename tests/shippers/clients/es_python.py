"""The official Elasticsearch Python client (any major): argv url key marker; helpers.bulk."""

import sys
from datetime import datetime, timezone

import elasticsearch
from elasticsearch import Elasticsearch, helpers

url, key, marker = sys.argv[1:4]
major = elasticsearch.__versionstr__.split(".")[0]
if major == "7":
    client = Elasticsearch(url, http_auth=("elastic", key))  # 7.17 checks GET / first
    print(client.info()["version"]["number"])
else:
    client = Elasticsearch(url, api_key=key)
now = datetime.now(timezone.utc).isoformat()
actions = [
    {"_index": f"es{major}-logs", "_source": {"@timestamp": now, "message": f"{marker} first",
                                             "log.level": "warn", "service.name": f"py-es{major}",
                                             "host.name": "py-host", "order": {"id": 7}}},
    {"_op_type": "create", "_index": f"es{major}-logs",
     "_source": {"@timestamp": now, "message": f"{marker} second", "log": {"level": "error"},
                 "service": {"name": f"py-es{major}"}, "host": {"hostname": "py-host"}}},
]
ok, errors = helpers.bulk(client, actions)
assert ok == 2 and not errors, errors
client.indices.refresh(index=f"es{major}-logs")
print("sent", ok)
