"""A Spark standalone cluster on 127.0.0.1 for tests and benchmarks: a master and N workers
started from the pip-installed PySpark (`spark-class ...deploy.master.Master` / `...Worker`,
as sbin/start-*.sh would, which the pip package does not ship), each on free ports, with a
temporary work folder; `submit` runs spark-submit against it. Every process is stopped on exit
of the `with` block, also when the block raises.

    with StandaloneCluster(tmp, workers=2) as cluster:
        result = cluster.submit([...app and its args...], env=..., conf={...})
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_home() -> str:
    import pyspark

    return os.path.dirname(os.path.abspath(pyspark.__file__))


DELTA_PACKAGE = "io.delta:delta-spark_4.2_2.13:4.4.0"  # python/requirements.txt's delta-spark


def event_log_conf(folder) -> dict:
    """spark-submit's --conf for an event log in `folder` that tasks_by_executor reads (Spark 4
    compresses it with zstd and rolls it into a folder by default)."""
    return {"spark.eventLog.enabled": "true", "spark.eventLog.dir": pathlib.Path(folder).as_uri(),
            "spark.eventLog.compress": "false", "spark.eventLog.rolling.enabled": "false"}


class StandaloneCluster:
    """A master and `workers` workers of `cores` cores and `memory` each, on 127.0.0.1."""

    def __init__(self, folder, workers=2, cores=1, memory="1g", start_timeout=120):
        self.folder = pathlib.Path(folder)
        self.workers, self.cores, self.memory = workers, cores, memory
        self.start_timeout = start_timeout
        self.port, self.ui_port = free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.worker_ui_ports = []
        self.processes = []
        self.env = dict(os.environ, SPARK_HOME=spark_home(), SPARK_LOCAL_IP="127.0.0.1",
                        SPARK_LOG_DIR=str(self.folder / "logs"), PYSPARK_PYTHON=sys.executable,
                        PYSPARK_DRIVER_PYTHON=sys.executable)

    def _start(self, name, args):
        log = open(self.folder / f"{name}.log", "w")
        p = subprocess.Popen([os.path.join(spark_home(), "bin", "spark-class"), *args],
                             env=self.env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.processes.append((name, p, log))
        return p

    def state(self) -> dict:
        """The master's JSON status (its web UI's /json/)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as r:
            return json.load(r)

    def __enter__(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        props = self.folder / "master.properties"
        props.write_text("spark.master.rest.enabled false\n")  # else a fixed port, 6066
        try:
            self._start("master", ["org.apache.spark.deploy.master.Master", "--host",
                                   "127.0.0.1", "--port", str(self.port), "--webui-port",
                                   str(self.ui_port), "--properties-file", str(props)])
            for i in range(self.workers):
                ui = free_port()
                self.worker_ui_ports.append(ui)
                work = self.folder / f"worker{i}"
                work.mkdir(exist_ok=True)
                self._start(f"worker{i}", ["org.apache.spark.deploy.worker.Worker", "--host",
                                           "127.0.0.1", "--webui-port", str(ui), "--cores",
                                           str(self.cores), "--memory", self.memory,
                                           "--work-dir", str(work), self.url])
            self._wait_for_workers()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_workers(self):
        deadline = time.monotonic() + self.start_timeout
        while True:
            for name, p, _ in self.processes:
                if p.poll() is not None:
                    raise RuntimeError(f"spark {name} exited ({p.returncode}): "
                                       f"{(self.folder / f'{name}.log').read_text()[-3000:]}")
            try:
                if self.state().get("aliveworkers", 0) == self.workers:
                    return
            except OSError:
                pass  # the master's UI is not up yet
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.workers} workers not registered with {self.url} "
                                   f"after {self.start_timeout} s")
            time.sleep(0.5)

    def submit(self, app_args, env=None, conf=None, packages=(), timeout=600):
        """spark-submit --master <this cluster> [--packages ...] [--conf k=v ...] app_args;
        returns the CompletedProcess (stdout and stderr captured as text)."""
        cmd = [os.path.join(spark_home(), "bin", "spark-submit"), "--master", self.url]
        if packages:
            cmd += ["--packages", ",".join(packages)]
        for k, v in (conf or {}).items():
            cmd += ["--conf", f"{k}={v}"]
        run_env = dict(self.env, **(env or {}))
        return subprocess.run(cmd + list(app_args), env=run_env, capture_output=True, text=True,
                              timeout=timeout)

    def stop(self):
        for _, p, _ in reversed(self.processes):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for _, p, log in reversed(self.processes):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            log.close()
        self.processes = []

    def __exit__(self, *exc):
        self.stop()
        return False


def tasks_by_executor(event_log_dir, job_description=""):
    """From the Spark event log (spark.eventLog.dir, one application, not compressed, as
    event_log_conf writes it): {executor id: successful result tasks} of the jobs whose
    description (SparkContext.setJobDescription) contains `job_description`, and {executor id:
    the web UI port of its worker} (from the executor's log URLs, which are the worker's)."""
    (log,) = [f for f in pathlib.Path(event_log_dir).rglob("*") if f.is_file()
              and not f.name.startswith((".", "appstatus"))]
    if log.suffix in (".zstd", ".lz4", ".snappy", ".lzf"):
        raise ValueError(f"{log}: set spark.eventLog.compress=false")
    events = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    stages = set()
    for e in events:
        if (e["Event"] == "SparkListenerJobStart" and job_description in
                (e.get("Properties") or {}).get("spark.job.description", "")):
            stages.update(e["Stage IDs"])
    tasks, workers = {}, {}
    for e in events:
        if e["Event"] == "SparkListenerExecutorAdded":
            urls = e["Executor Info"].get("Log Urls", {})
            port = next((u.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]
                         for u in urls.values()), None)
            workers[e["Executor ID"]] = int(port) if port else None
        elif (e["Event"] == "SparkListenerTaskEnd" and e["Stage ID"] in stages
              and e["Task Type"] == "ResultTask"
              and e["Task End Reason"]["Reason"] == "Success"):
            ex = e["Task Info"]["Executor ID"]
            tasks[ex] = tasks.get(ex, 0) + 1
    return tasks, workers
