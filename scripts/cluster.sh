#!/usr/bin/env bash
# A Spark standalone cluster on this machine: a master and two workers, each its own JVM
# with one core, started from the pyspark installation of .venv.
#
#   scripts/cluster.sh start            # master on spark://127.0.0.1:7077, 2 workers (1 core, 3g each)
#   scripts/cluster.sh status           # the workers the master sees alive
#   scripts/cluster.sh submit JOB ARGS  # spark-submit jobs/JOB.py there, the project shipped with --py-files
#   scripts/cluster.sh stop
#
# `submit` runs the job the way a cluster user would: the driver here (client mode), the
# project's packages shipped to the executors as a zip, Delta Lake's jars with --jars, the
# `cluster` configuration overlay (conf/cluster.yaml). The data must be where every
# executor can read and write it: on this one host any local folder; on a real cluster a
# shared filesystem or an object store (see the README).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
export SPARK_HOME="$VENV/lib/python3.11/site-packages/pyspark"
export SPARK_LOCAL_IP=127.0.0.1
export PYSPARK_PYTHON="$VENV/bin/python" PYSPARK_DRIVER_PYTHON="$VENV/bin/python"
DIR="${DMDE_CLUSTER_DIR:-$ROOT/.cluster}"
export SPARK_LOCAL_DIRS="$DIR/local" SPARK_WORKER_DIR="$DIR/work"
MASTER_URL="spark://127.0.0.1:7077"
WORKER_MEMORY="${DMDE_WORKER_MEMORY:-3g}"

die() { echo "cluster: $*" >&2; exit 1; }
[ -x "$SPARK_HOME/bin/spark-class" ] || die "no pyspark in $VENV: run scripts/test.sh or scripts/demo.sh first (they create .venv)."
alive() { [ -f "$DIR/pids/$1.pid" ] && kill -0 "$(cat "$DIR/pids/$1.pid")" 2>/dev/null; }

start() {
  mkdir -p "$DIR/logs" "$DIR/pids" "$SPARK_LOCAL_DIRS" "$SPARK_WORKER_DIR"
  if alive master; then echo "cluster: already running ($MASTER_URL)"; return 0; fi
  nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port 7077 \
    --webui-port 8080 > "$DIR/logs/master.log" 2>&1 < /dev/null &
  echo $! > "$DIR/pids/master.pid"
  for _ in $(seq 60); do (echo > /dev/tcp/127.0.0.1/7077) 2>/dev/null && break; sleep 1; done
  for i in 1 2; do start_worker "$i"; done
  for _ in $(seq 90); do [ "$(workers)" -ge 2 ] && break; sleep 1; done
  [ "$(workers)" -ge 2 ] || die "the workers did not register; see $DIR/logs/"
  echo "cluster: master $MASTER_URL, $(workers) workers alive (1 core, $WORKER_MEMORY each); logs in $DIR/logs"
}

start_worker() {
  nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --cores 1 \
    --memory "$WORKER_MEMORY" --webui-port $((8080 + $1)) --work-dir "$SPARK_WORKER_DIR/w$1" "$MASTER_URL" \
    > "$DIR/logs/worker$1.log" 2>&1 < /dev/null &
  echo $! > "$DIR/pids/worker$1.pid"
}

workers() {  # alive workers, as the master reports them
  curl -s --max-time 2 http://127.0.0.1:8080/json/ 2>/dev/null \
    | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin).get("aliveworkers", 0))' 2>/dev/null || echo 0
}

stop() {
  for name in worker1 worker2 master; do
    f="$DIR/pids/$name.pid"
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 15); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$f"
  done
  echo "cluster: stopped"
}

package() {  # the project's packages, as executors import them
  mkdir -p "$DIR/dist"
  (cd "$ROOT" && rm -f "$DIR/dist/dmde.zip" && "$VENV/bin/python" -m zipfile -c "$DIR/dist/dmde.zip" \
     domain jobs transforms expectations reporting >/dev/null)
  echo "$DIR/dist/dmde.zip"
}

submit() {
  [ $# -ge 1 ] || die "usage: scripts/cluster.sh submit JOB [ARGS...] (e.g. submit score_month --month 2026-02 --data-dir DIR)"
  job="$1"; shift
  [ -f "$ROOT/jobs/$job.py" ] || die "no job jobs/$job.py"
  alive master || die "no cluster running: scripts/cluster.sh start"
  jars=$("$VENV/bin/python" -c 'from jobs.lib.config import load_config; print(",".join(map(str, load_config("cluster").delta_jars)))')
  # The driver imports the project from the zip too; its configuration stays a folder.
  export DMDE_CONF_DIR="${DMDE_CONF_DIR:-$ROOT/conf}"
  exec "$SPARK_HOME/bin/spark-submit" --master "$MASTER_URL" --deploy-mode client \
    --jars "$jars" --py-files "$(package)" \
    --conf spark.executor.cores=1 --conf spark.executor.memory=2g --conf spark.driver.memory=4g \
    "$ROOT/jobs/$job.py" --env cluster "$@"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if alive master; then echo "cluster: master $MASTER_URL, $(workers) workers alive"; else echo "cluster: not running"; exit 3; fi ;;
  submit) shift; submit "$@" ;;
  start-worker) shift; start_worker "${1:?worker number}" ;;  # restart a killed worker (fault tests)
  *) die "usage: scripts/cluster.sh start|stop|status|submit JOB [ARGS...]" ;;
esac
