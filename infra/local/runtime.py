"""The local runtime: moto, the template's resources, warm workers, the API Gateway emulation,
SQS pollers, schedules, seeding. One class, usable from the CLI and from tests::

    rt = LocalRuntime(api_port=0, moto_port=0, authorizer_ttl=0, seed=True)
    rt.start()
    rt.api_url, rt.moto_url, rt.admin_token, rt.seed
    rt.fire_schedule("AuditArchiveFunction", "Daily")
    rt.stop()

The gateway runs on an asyncio loop in a background thread; workers and moto are child
processes in their own sessions, stopped by :meth:`stop` (also registered with ``atexit``) and
exiting by themselves if this process dies without stopping them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import IO, Any

from infra.local.control import ControlApi
from infra.local.environment import function_environment, worker_config
from infra.local.gateway import ApiGateway
from infra.local.moto_server import MotoProcess, start_moto
from infra.local.resources import Provisioner, StackState, boto_client
from infra.local.schedules import Scheduler, schedule_event
from infra.local.seed import SEED_ROUTES, SeedError, seed_demo
from infra.local.server import Listener, serve
from infra.local.sqs import QueuePoller
from infra.local.streams import StreamPoller
from infra.local.template import DEFAULT_STACK_NAME, ScheduleTrigger, TemplateModel, load_template
from infra.local.workers import FunctionPool, InvokeResult

LOG = logging.getLogger("infra.local")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STATE_FILE = PROJECT_ROOT / ".local" / "runtime.json"


class LocalRuntime:
    """Everything ``make dev`` runs, startable and stoppable from Python."""

    def __init__(
        self,
        template: str | Path = PROJECT_ROOT / "template.yaml",
        *,
        api_port: int = 3000,
        moto_port: int = 0,
        host: str = "127.0.0.1",
        parameters: dict[str, str] | None = None,
        authorizer_ttl: int | None = None,
        seed: bool = True,
        max_environments: int = 4,
        sqs_retry_delay: float = 1.0,
        prewarm: bool = False,
        log_dir: str | Path | None = PROJECT_ROOT / ".local" / "logs",
        state_file: str | Path | None = None,
        access_log: bool = False,
        reload_code: bool = False,
        admin_secret: str = "AdminSecret",
        stack_name: str = DEFAULT_STACK_NAME,
        env_overrides: dict[str, dict[str, str]] | None = None,
        widget_port: int | None = None,
        demo_port: int | None = None,
        stripe_port: int | None = 0,
    ) -> None:
        self.template_path = Path(template)
        self.api_port = api_port
        self.moto_port = moto_port
        self.host = host
        self.parameters = dict(parameters or {})
        self.authorizer_ttl = authorizer_ttl
        self.seed_enabled = seed
        self.max_environments = max_environments
        self.sqs_retry_delay = sqs_retry_delay
        self.prewarm = prewarm
        self.log_dir = Path(log_dir) if log_dir else None
        self.state_file = Path(state_file) if state_file else None
        self.access_log = access_log
        self.reload_code = reload_code
        self.admin_secret = admin_secret
        self.stack_name = stack_name
        # Local-only environment variables: {"FunctionLogicalId" or "*": {"NAME": "value"}}
        self.env_overrides = {k: dict(v) for k, v in (env_overrides or {}).items()}
        # The widget (infra/local/widget.py): its CloudFront on widget_port, and a customer's
        # demo page on demo_port (needs the seed); None = not served.
        self.widget_port = widget_port
        self.demo_port = demo_port
        self.widget_url: str | None = None
        self.widget_cdn: Any = None  # infra.local.widget.WidgetCdn, once served
        self.demo_url: str | None = None
        # The fake Stripe (infra/local/stripe_local.py) when a function talks to Stripe;
        # stripe_port None = not started (the functions keep the template's address).
        self.stripe_port = stripe_port
        self.stripe: Any = None  # infra.local.fakestripe.FakeStripe, once started
        self._environments: dict[str, dict[str, str]] = {}

        self.model: TemplateModel | None = None
        self.moto: MotoProcess | None = None
        self.stack: StackState | None = None
        self.pools: dict[str, FunctionPool] = {}
        self.gateway: ApiGateway | None = None
        self.pollers: list[QueuePoller] = []
        self.stream_pollers: list[StreamPoller] = []
        self.one_time_schedules: Any = None  # infra.local.scheduler_poller.OneTimeSchedules
        self.seed: dict[str, Any] = {}
        self.seed_error: str | None = None
        self.startup_seconds = 0.0
        self.timings: dict[str, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._listeners: list[Listener] = []
        self._stop = threading.Event()
        self._logs: list[IO[bytes]] = []
        self._started = False
        self._stopped = False

    # ------------------------------------------------------------------ properties
    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def docs_url(self) -> str:
        return f"{self.api_url}/v1/docs"

    @property
    def moto_url(self) -> str:
        assert self.moto is not None, "start() first"
        return self.moto.url

    @property
    def admin_token(self) -> str | None:
        """The platform admin token (the generated value of the admin secret)."""
        raw = (self.stack.generated_secrets if self.stack else {}).get(self.admin_secret)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return raw
        if isinstance(value, dict):
            return str(value.get("token", next(iter(value.values()), "")))
        return raw

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalRuntime:
        """Start everything and return once the API answers (and the seed is in)."""
        if self._started:
            return self
        self._started = True
        atexit.register(self.stop)
        try:
            self._boot()
        except BaseException:
            self.stop()  # nothing half-started may outlive a failed start
            raise
        return self

    def _boot(self) -> None:
        started = time.perf_counter()
        moto_box: dict[str, Any] = {}
        # moto's start-up overlaps with reading the template (both take about a second).
        moto_thread = threading.Thread(target=self._start_moto, args=(moto_box,), daemon=True)
        moto_thread.start()
        try:
            self.model = load_template(
                self.template_path, self.parameters, stack_name=self.stack_name
            )
        finally:
            moto_thread.join()
            self.moto = moto_box.get("moto")
        if "error" in moto_box:
            raise moto_box["error"]
        assert self.moto is not None
        unknown = set(self.env_overrides) - set(self.model.functions) - {"*"}
        if unknown:  # a typo must not silently leave the template's value in place
            raise ValueError(f"--env names functions not in the template: {sorted(unknown)}")
        self._phase("template + moto", started)
        self.stack = Provisioner(self.model, self.moto.url).create_all()
        self._phase("resources", started)
        self._start_loop()
        self._call(self._start_async())
        self._configure_stripe()
        self._start_event_sources()
        warm = set(self.pools) if self.prewarm else set()
        if self.seed_enabled and self.gateway is not None:
            warm |= {name for route in SEED_ROUTES for name in self.gateway.functions_for(*route)}
        self._call(self._prewarm(warm & set(self.pools)))
        self._phase("prewarm", started)
        if self.seed_enabled:
            self._seed()
            self._phase("seed", started)
        if self.widget_port is not None:
            self._start_widget()
            self._phase("widget", started)
        self.startup_seconds = time.perf_counter() - started
        if self.state_file:
            self._write_state()

    def _phase(self, name: str, started: float) -> None:
        self.timings[name] = round(time.perf_counter() - started, 2)
        LOG.debug("start-up: %s done at %.2f s", name, self.timings[name])

    def _start_moto(self, box: dict[str, Any]) -> None:
        try:
            box["moto"] = start_moto(self.moto_port)
        except Exception as exc:
            box["error"] = exc

    def _start_loop(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(
            target=self._loop.run_forever, name="local-gateway", daemon=True
        )
        self._loop_thread.start()

    def _call(self, coroutine: Any, timeout: float | None = None) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _start_async(self) -> None:
        assert self.model is not None and self.stack is not None
        resolver = self.model.resolver(self.stack.refs, self.stack.attrs)
        for name, spec in self.model.functions.items():
            extra = {**self.env_overrides.get("*", {}), **self.env_overrides.get(name, {})}
            env = function_environment(spec, resolver, self.moto_url, extra=extra)
            self._environments[name] = env
            self.pools[name] = FunctionPool(
                name,
                env,
                worker_config(spec, env),
                code_dir=str(spec.code_dir),
                timeout_s=spec.timeout_s,
                max_environments=self.max_environments,
                log_file=self._log_file(name),
            )
        if self.model.api is None:
            LOG.warning("the template has no API routes; only event sources will run")
            return
        self.gateway = ApiGateway(
            self.model.api,
            self.invoke_async,
            functions=set(self.pools),
            authorizer_ttl=self.authorizer_ttl,
            control=ControlApi(self).handle,
            access_log=self.access_log,
        )
        listener = await serve(self.gateway.handle, self.host, self.api_port)
        self._listeners.append(listener)
        self.api_port = listener.port
        self.gateway.port = self.api_port

    def _configure_stripe(self) -> None:
        from infra.local import stripe_local

        if self.stripe_port is None or not stripe_local.uses_stripe(self._environments):
            return
        from infra.local.fakestripe import FakeStripe

        self.stripe = FakeStripe().start(self.host, self.stripe_port)
        for pool in self.pools.values():
            stripe_local.wire(pool.env, self.stripe)
        stripe_local.configure_platform(
            self.stripe, self.moto_url, self.api_url, list(self._environments.values())
        )

    def _log_file(self, name: str) -> IO[bytes] | None:
        if self.log_dir is None:
            return None  # inherit: function logs go to this process's stderr
        self.log_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.log_dir / f"{name}.log").open("ab", buffering=0)
        self._logs.append(handle)
        return handle

    async def _prewarm(self, names: set[str]) -> None:
        # Cold starts side by side; a function that fails to start fails its first request.
        await asyncio.gather(
            *(self.pools[name].prewarm() for name in names), return_exceptions=True
        )

    def _start_event_sources(self) -> None:
        assert self.model is not None and self.stack is not None
        resolver = self.model.resolver(self.stack.refs, self.stack.attrs)
        queue_urls = {
            attrs.get("Arn"): self.stack.refs[name]
            for name, attrs in self.stack.attrs.items()
            if self.stack.types.get(name) == "AWS::SQS::Queue"
        }
        for trigger in self.model.queue_triggers:
            if not trigger.enabled or trigger.function not in self.pools:
                continue
            arn = resolver.resolve(trigger.queue_arn)
            if arn not in queue_urls:
                LOG.warning(
                    "%s/%s: queue %s is not in the template",
                    trigger.function,
                    trigger.event_name,
                    arn,
                )
                continue
            poller = QueuePoller(
                dataclasses.replace(
                    trigger, filter_criteria=resolver.resolve(trigger.filter_criteria)
                ),
                queue_urls[arn],
                arn,
                self.moto_url,
                self.invoke,
                retry_delay=self.sqs_retry_delay,
                stop=self._stop,
            )
            poller.start()
            self.pollers.append(poller)
        self._start_stream_pollers(resolver)
        schedules = [s for s in self.model.schedules if s.function in self.pools]
        if schedules:
            Scheduler(schedules, self.fire_schedule_trigger, self._stop).start()
        # One-time schedules the functions create (reminders): moto keeps them, we fire them.
        from infra.local.scheduler_poller import OneTimeSchedules

        def deliver(arn: str, body: str) -> None:
            if arn not in queue_urls:
                LOG.warning("one-time schedule target %s is not a queue of the template", arn)
                return
            boto_client("sqs", self.moto_url).send_message(
                QueueUrl=queue_urls[arn], MessageBody=body
            )

        self.one_time_schedules = OneTimeSchedules(
            boto_client("scheduler", self.moto_url), deliver, self._stop
        )
        self.one_time_schedules.start()
        if self.reload_code:
            threading.Thread(target=self._watch_code, name="code-watch", daemon=True).start()

    def _start_stream_pollers(self, resolver: Any) -> None:
        assert self.model is not None and self.stack is not None
        streams = {
            attrs.get("StreamArn")
            for name, attrs in self.stack.attrs.items()
            if self.stack.types.get(name) == "AWS::DynamoDB::Table"
        }
        for trigger in self.model.stream_triggers:
            if not trigger.enabled or trigger.function not in self.pools:
                continue
            arn = resolver.resolve(trigger.stream_arn)
            if arn not in streams:
                LOG.warning(
                    "%s/%s: stream %s is not a table stream of the template",
                    trigger.function,
                    trigger.event_name,
                    arn,
                )
                continue
            resolved = dataclasses.replace(
                trigger,
                filter_criteria=resolver.resolve(trigger.filter_criteria),
                on_failure=resolver.resolve(trigger.on_failure),
            )
            config = self.pools[trigger.function].config
            poller = StreamPoller(
                resolved,
                arn,
                self.moto_url,
                self.invoke,
                function_arn=config["invoked_function_arn"],
                function_version=config["function_version"],
                send_failure=self.send_to_destination,
                on_failure_arn=resolved.on_failure,
                retry_delay=self.sqs_retry_delay,
                stop=self._stop,
            )
            # LATEST means "from now": take the iterators before anything (the seed) writes.
            poller.start_positions()
            poller.start()
            self.stream_pollers.append(poller)

    def send_to_destination(self, arn: str, message: dict[str, Any]) -> None:
        """Deliver an on-failure record to an SQS queue or SNS topic of the template."""
        assert self.stack is not None
        body = json.dumps(message)
        if ":sqs:" in arn:
            urls = {
                attrs.get("Arn"): self.stack.refs[name]
                for name, attrs in self.stack.attrs.items()
                if self.stack.types.get(name) == "AWS::SQS::Queue"
            }
            if arn not in urls:
                raise LookupError(f"queue {arn} is not in the template")
            boto_client("sqs", self.moto_url).send_message(QueueUrl=urls[arn], MessageBody=body)
        elif ":sns:" in arn:
            boto_client("sns", self.moto_url).publish(TopicArn=arn, Message=body)
        else:
            raise LookupError(f"destination {arn} is not emulated (SQS and SNS are)")

    def _seed(self) -> None:
        token = self.admin_token
        if token is None:
            self.seed_error = f"no generated secret {self.admin_secret} in the template"
            LOG.warning("seeding skipped: %s", self.seed_error)
            return
        try:
            self.seed = seed_demo(self.api_url, token)
            if self.stripe is not None:
                from infra.local.seed import connect_demo_stripe
                from infra.local.stripe_local import DEMO_TENANT_KEY

                connect_demo_stripe(self.api_url, self.seed["owner_key"], DEMO_TENANT_KEY)
                self.seed["stripe_key"] = DEMO_TENANT_KEY
        except (SeedError, KeyError, TypeError) as exc:
            self.seed_error = str(exc)
            LOG.warning("seeding failed (the API may not be built yet): %s", exc)

    def _start_widget(self) -> None:
        # A busy port costs the widget (with a warning), not the whole runtime.
        assert self.widget_port is not None
        try:
            self.serve_widget(self.widget_port)
        except OSError as exc:
            LOG.warning("widget not served (--widget-port %s): %s", self.widget_port, exc)
            return
        if self.demo_port is None or not self.seed:
            return
        from infra.local.widget import prepare_demo

        origin = f"http://{self.host}:{self.demo_port}"
        try:
            key = prepare_demo(self.api_url, self.seed, origin)
        except (RuntimeError, OSError, KeyError) as exc:
            LOG.warning("demo agent not prepared: %s", exc)
            key = self.seed["publishable_key"]
        try:
            self.demo_url = self.serve_demo_page(self.seed["agent_id"], key, self.demo_port)
        except OSError as exc:
            LOG.warning("demo page not served (--demo-port %s): %s", self.demo_port, exc)

    def serve_widget(self, port: int = 0) -> str:
        """Serve the widget as the template's CloudFront distribution would (its files, the
        API's public routes, the same response headers) on ``port``; returns its URL. SSM
        parameters holding the distribution's URL get this URL instead (functions cache what
        they read: start this before they first read it, as start() does)."""
        from infra.local.widget import WidgetCdn, distribution_parameters

        if self.widget_url is not None:
            return self.widget_url
        assert self.model is not None and self.gateway is not None, "start() first"
        assert self.stack is not None
        cdn = self.widget_cdn = WidgetCdn(self.model.cfn, self.gateway.handle)
        listener = self._call(serve(cdn.handle, self.host, port))
        self._listeners.append(listener)
        self.widget_url = f"http://{self.host}:{listener.port}"
        ssm = boto_client("ssm", self.moto_url)
        for parameter, rest in distribution_parameters(self.model.cfn).items():
            name = self.stack.refs[parameter]
            ssm.put_parameter(
                Name=name, Value=self.widget_url + rest, Type="String", Overwrite=True
            )
        if self.state_file:
            self._write_state()
        return self.widget_url

    def serve_demo_page(self, agent_id: str, publishable_key: str, port: int = 0) -> str:
        """Serve a customer's page embedding the widget for ``agent_id`` on ``port`` (another
        origin than the API and the widget's files); returns its URL. Call it again with
        another port for a second site, e.g. one the key does not allow."""
        from infra.local.widget import DemoSite

        loader = self.serve_widget() + "/widget.js"
        site = DemoSite(loader, agent_id, publishable_key)
        listener = self._call(serve(site.handle, self.host, port))
        self._listeners.append(listener)
        return f"http://{self.host}:{listener.port}/"

    def stop(self) -> None:
        """Stop workers, pollers, the gateway and moto. Safe to call twice."""
        if self._stopped or not self._started:
            return
        self._stopped = True
        self._stop.set()
        if self._loop is not None and self._loop.is_running():
            with contextlib.suppress(Exception):
                self._call(self._shutdown(), timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._loop_thread is not None:
                self._loop_thread.join(5)
        for pool in self.pools.values():  # already closed unless the loop had died
            with contextlib.suppress(Exception):
                pool.close()
        for poller in [*self.pollers, *self.stream_pollers]:
            poller.join(3)
        if self.stripe is not None:
            self.stripe.stop()
        if self.moto is not None:
            self.moto.stop()
        for handle in self._logs:
            handle.close()
        if self.state_file and self.state_file.exists():
            with contextlib.suppress(ValueError, OSError):
                if json.loads(self.state_file.read_text()).get("pid") == os.getpid():
                    self.state_file.unlink()
        atexit.unregister(self.stop)

    async def _shutdown(self) -> None:
        for listener in self._listeners:
            await listener.close()
        for pool in self.pools.values():
            pool.close()

    def wait(self) -> None:
        """Block until :meth:`stop` is called (from a signal handler, for instance)."""
        while not self._stop.wait(0.5):
            pass

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ invoking
    async def invoke_async(self, function: str, event: Any) -> InvokeResult:
        """Invoke ``function`` (logical id) with ``event`` in one of its environments."""
        return await self.pools[function].invoke(event)

    def invoke(self, function: str, event: Any) -> InvokeResult:
        """Thread-safe, blocking :meth:`invoke_async`."""
        return self._call(self.invoke_async(function, event))

    def find_schedule(self, function: str, event_name: str) -> ScheduleTrigger | None:
        assert self.model is not None
        for trigger in self.model.schedules:
            if trigger.function == function and trigger.event_name == event_name:
                return trigger
        return None

    async def fire_schedule_async(
        self, trigger: ScheduleTrigger, event: Any | None = None
    ) -> InvokeResult:
        """Fire ``trigger`` with its own event, or with ``event`` instead when given."""
        payload = schedule_event(trigger) if event is None else event
        return await self.invoke_async(trigger.function, payload)

    def fire_schedule_trigger(self, trigger: ScheduleTrigger) -> InvokeResult:
        return self._call(self.fire_schedule_async(trigger))

    def fire_schedule(
        self, function: str, event_name: str, event: Any | None = None
    ) -> InvokeResult:
        """Fire the schedule ``event_name`` of ``function`` now and wait for its result.
        ``event`` replaces the schedule's Input (a backfill, a test's ``{"as_of": ...}``)."""
        trigger = self.find_schedule(function, event_name)
        if trigger is None:
            raise KeyError(f"no schedule {function}/{event_name} in the template")
        return self._call(self.fire_schedule_async(trigger, event))

    def flush_authorizer_cache(self) -> int:
        """Forget every cached authorizer verdict; returns how many there were."""
        if self.gateway is None:
            return 0
        count = len(self.gateway.cache)
        self.gateway.cache.clear()
        return count

    # ------------------------------------------------------------------ introspection
    def describe_functions(self) -> list[dict[str, Any]]:
        assert self.model is not None
        return [
            {
                "logical_id": name,
                "handler": spec.handler,
                "timeout_s": spec.timeout_s,
                "memory_mb": spec.memory_mb,
                "environments": self.pools[name].environments if name in self.pools else 0,
                "cold_starts": self.pools[name].cold_starts if name in self.pools else 0,
                "events": {event: data.get("Type") for event, data in spec.events.items()},
            }
            for name, spec in self.model.functions.items()
        ]

    def describe_event_sources(self) -> list[dict[str, Any]]:
        """Every running event source mapping, with what it has done so far."""
        sources: list[dict[str, Any]] = [
            {
                "type": "SQS",
                "function": p.trigger.function,
                "event": p.trigger.event_name,
                "source": p.queue_arn,
                "batches": p.batches,
                "filtered_out": p.filtered_out,
            }
            for p in self.pollers
        ]
        sources += [
            {
                "type": "DynamoDB",
                "function": p.trigger.function,
                "event": p.trigger.event_name,
                "source": p.stream_arn,
                "shards": len(p.shards),
                "batches": p.batches,
                "filtered_out": p.filtered_out,
                "discarded": p.discarded,
                "on_failure": p.on_failure_arn,
            }
            for p in self.stream_pollers
        ]
        return sources

    def describe_queues(self) -> list[dict[str, Any]]:
        assert self.stack is not None
        sqs = boto_client("sqs", self.moto_url)
        queues = []
        for name, kind in self.stack.types.items():
            if kind != "AWS::SQS::Queue":
                continue
            url = self.stack.refs[name]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"
            ]
            queues.append(
                {
                    "logical_id": name,
                    "url": url,
                    "arn": self.stack.attrs[name]["Arn"],
                    "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
                    "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
                }
            )
        return queues

    def summary(self) -> dict[str, Any]:
        """What `make dev` prints and .local/runtime.json holds."""
        assert self.model is not None and self.stack is not None
        return {
            "pid": os.getpid(),
            "api_url": self.api_url,
            "docs_url": self.docs_url,
            "control_url": f"{self.api_url}/__local__/",
            "moto_url": self.moto_url,
            "admin_token": self.admin_token,
            "seed": self.seed or None,
            "seed_error": self.seed_error,
            "template": str(self.model.path),
            "parameters": {k: str(v) for k, v in self.parameters.items()},
            "stack_name": self.stack_name,
            "stack": self.stack.to_json(),
            "startup_seconds": round(self.startup_seconds, 2),
            "widget_url": self.widget_url,
            "demo_url": self.demo_url,
            "stripe_url": self.stripe.url if self.stripe is not None else None,
        }

    def _write_state(self) -> None:
        assert self.state_file is not None
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.summary(), indent=2, default=str))
        temporary.replace(self.state_file)

    def _watch_code(self) -> None:
        # Warm environments keep the code they imported; when a file changes, replace them
        # (sam local builds a fresh container per request, so edits show up at once there).
        assert self.model is not None
        roots = {spec.code_dir for spec in self.model.functions.values()}
        roots |= {d for spec in self.model.functions.values() for d in spec.layer_dirs}
        last = _newest_mtime(roots)
        while not self._stop.wait(1.0):
            newest = _newest_mtime(roots)
            if newest > last:
                last = newest
                LOG.info("code changed: environments restart on their next request")
                assert self._loop is not None
                for pool in self.pools.values():
                    self._loop.call_soon_threadsafe(pool.retire_all)


def _newest_mtime(roots: set[Path]) -> float:
    newest = 0.0
    for root in roots:
        for path in root.rglob("*.py"):
            with contextlib.suppress(OSError):
                newest = max(newest, path.stat().st_mtime)
    return newest
