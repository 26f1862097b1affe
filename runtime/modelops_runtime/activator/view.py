"""What the activator knows of the cluster: each Service's routes, each version's pods and
whether the version can start at all.

The watcher (watch.py) feeds it from the API server; tests and the static mode feed it
directly. It lives on the event loop's thread; whoever changes it from another thread goes
through ``loop.call_soon_threadsafe``. Listeners hear which version changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from modelops_contracts.serving import Route

Key = tuple[str, str]
"""(namespace, name)"""


@dataclass(frozen=True)
class Pod:
    """One address of a version's pod, as its private Service's EndpointSlice lists it."""

    address: str
    """``ip:port`` (``[ip]:port`` for IPv6)."""
    ready: bool = True
    terminating: bool = False


@dataclass(frozen=True)
class Blocker:
    """Why a version's pods cannot start: a condition that is False, with its reason."""

    condition: str
    reason: str
    message: str

    def describe(self) -> str:
        return f"{self.condition} is False: {self.reason}" + (
            f": {self.message}" if self.message else ""
        )


Listener = Callable[[Key], None]


class ClusterView:
    def __init__(self) -> None:
        self._routes: dict[Key, tuple[Route, ...]] = {}
        self._auth: dict[Key, tuple[str, str]] = {}
        """(auth mode, Model) of each Service whose Model asks for a credential."""
        """A Service's auth mode (its Model's), when not "none"."""
        self._addresses: dict[str, Key] = {}
        self._addresses_of: dict[Key, tuple[str, ...]] = {}
        """The other way round, so a Service's update forgets its IPs without a scan."""
        """A Service's cluster IPs -> (namespace, Service): a request whose Host is the IP
        it was sent to (curl to a ClusterIP) is routed as one sent by name."""
        self._slices: dict[Key, tuple[Key, tuple[Pod, ...]]] = {}
        """(namespace, slice name) -> ((namespace, version), pods)"""
        self._pods: dict[Key, tuple[Pod, ...]] = {}
        self._blockers: dict[Key, Blocker] = {}
        self._versions: set[Key] | None = None
        """The ModelVersions that exist, once a list of them arrived (None: not known,
        e.g. the static mode)."""
        self._listeners: list[Listener] = []
        self.synced: set[str] = set()
        """The kinds whose first list has arrived (services, endpointslices, modelversions)."""

    # --- reading --------------------------------------------------------------------------

    def routes(self, namespace: str, service: str) -> tuple[Route, ...] | None:
        return self._routes.get((namespace, service))

    def auth(self, namespace: str, service: str) -> str:
        """The auth mode of a Service's Model: the credential a caller must show before
        anything is woken for it."""
        return self._auth.get((namespace, service), ("none", ""))[0]

    def model(self, namespace: str, service: str) -> str:
        """The Model a Service that asks for a credential belongs to ('' if not known)."""
        return self._auth.get((namespace, service), ("none", ""))[1]

    def service_at(self, address: str) -> Key | None:
        """The modelops Service whose cluster IP is ``address``, if one is known."""
        return self._addresses.get(address)

    def pods(self, namespace: str, version: str) -> tuple[Pod, ...]:
        return self._pods.get((namespace, version), ())

    def blocker(self, namespace: str, version: str) -> Blocker | None:
        return self._blockers.get((namespace, version))

    def exists(self, namespace: str, version: str) -> bool:
        """False only when the version is known not to exist (a route left naming it)."""
        return self._versions is None or (namespace, version) in self._versions

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # --- feeding --------------------------------------------------------------------------

    def set_routes(
        self,
        namespace: str,
        service: str,
        routes: Iterable[Route] | None,
        addresses: Iterable[str] = (),
        *,
        auth: str = "none",
        model: str = "",
    ) -> None:
        key = (namespace, service)
        self._forget_addresses(key)
        self._auth.pop(key, None)
        if routes is None:
            self._routes.pop(key, None)
        else:
            self._routes[key] = tuple(routes)
            self._addresses_of[key] = tuple(addresses)
            self._addresses.update(dict.fromkeys(self._addresses_of[key], key))
            if auth != "none":
                self._auth[key] = (auth, model)

    def _forget_addresses(self, key: Key) -> None:
        for address in self._addresses_of.pop(key, ()):
            if self._addresses.get(address) == key:  # an IP reused by a newer Service stays
                del self._addresses[address]

    def set_slice(
        self, namespace: str, slice_name: str, version: str | None, pods: Iterable[Pod] = ()
    ) -> None:
        """The pods one EndpointSlice lists for a version (None: the slice is gone)."""
        key = (namespace, slice_name)
        before = self._slices.pop(key, None)
        if version is not None:
            self._slices[key] = ((namespace, version), tuple(pods))
        touched = {entry[0] for entry in (before, self._slices.get(key)) if entry}
        for version_key in touched:
            self._pods[version_key] = tuple(
                pod for owner, pods_of in self._slices.values() if owner == version_key
                for pod in pods_of
            )  # fmt: skip
            if not self._pods[version_key]:
                del self._pods[version_key]
            self._changed(version_key)

    def set_pods(self, namespace: str, version: str, pods: Iterable[Pod]) -> None:
        """All of a version's pods at once (one slice named after the version)."""
        self.set_slice(namespace, f"{version}-pods", version, pods)

    def set_blocker(self, namespace: str, version: str, blocker: Blocker | None) -> None:
        key = (namespace, version)
        if blocker is None:
            if self._blockers.pop(key, None) is not None:
                self._changed(key)
        elif self._blockers.get(key) != blocker:
            self._blockers[key] = blocker
            self._changed(key)

    def set_exists(self, namespace: str, version: str, exists: bool) -> None:
        key = (namespace, version)
        known = self._versions if self._versions is not None else set()
        self._versions = known
        if exists != (key in known):
            (known.add if exists else known.discard)(key)
            self._changed(key)

    def replace(self, kind: str, namespace: str | None, keys: set[Key]) -> None:
        """After a fresh list of ``kind`` (in ``namespace``, or all): forget what the list
        no longer has (objects deleted while no watch was open)."""
        inside = (lambda k: k[0] == namespace) if namespace else (lambda k: True)
        if kind == "services":
            for key in [k for k in self._routes if inside(k) and k not in keys]:
                del self._routes[key]
                self._forget_addresses(key)
                self._auth.pop(key, None)
        elif kind == "endpointslices":
            for key in [k for k in self._slices if inside(k) and k not in keys]:
                self.set_slice(key[0], key[1], None)
        elif kind == "modelversions":
            for key in [k for k in self._blockers if inside(k) and k not in keys]:
                self.set_blocker(key[0], key[1], None)
            self._versions = self._versions if self._versions is not None else set()
            for key in [k for k in self._versions if inside(k) and k not in keys]:
                self.set_exists(key[0], key[1], False)

    def _changed(self, version: Key) -> None:
        for listener in self._listeners:
            listener(version)
