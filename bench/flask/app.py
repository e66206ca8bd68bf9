# The Flask original that hitcounter replaces (Docker's Compose getting-started app), used only
# as a baseline by `make bench` (bench/harness). Run under gunicorn: gunicorn -w 5 -b 127.0.0.1:PORT app:app
import os

import redis
from flask import Flask

app = Flask(__name__)
cache = redis.Redis(host="127.0.0.1", port=int(os.environ.get("REDIS_PORT", "6379")))


@app.route("/")
def hello():
    count = cache.incr("hits")
    return "Hello World! I have been seen {} times.\n".format(count)
