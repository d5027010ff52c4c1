"""The requests a page made, from a Chromium NetLog (--log-net-log=FILE).

Prints `page requests: N` and then one line per URL requested on behalf of
a document (its initiator is an origin, `null` for a file:// page). The
browser's own background requests (component updates, time sync: initiator
"not an origin") are left out: they are Chromium's, not the page's, and
--host-resolver-rules="MAP * ~NOTFOUND" keeps every request off the
network anyway. A control page with one remote <img> shows that a request
the page makes is seen (test/Train/report-browser.test).
"""
import json
import sys


def load(path):
    text = open(path).read().rstrip()
    try:
        return json.loads(text)
    except ValueError:  # a log cut short: close its event list
        return json.loads(text.rstrip(",") + "]}")


log = load(sys.argv[1])
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
urls = []
for e in log["events"]:
    p = e.get("params", {})
    if names.get(e["type"]) != "URL_REQUEST_START_JOB" or "url" not in p:
        continue
    if p.get("initiator", "not an origin") == "not an origin":
        continue
    urls.append(p["url"])
print("page requests: %d" % len(urls))
for u in urls:
    print("  " + u)
