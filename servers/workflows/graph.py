"""The order of a workflow's nodes: cycles named, topological layers, upstream sets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """One cycle as a path that ends where it starts (``[a, b, a]``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in deps:
        if state.get(root):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            children = deps.get(node, ())
            if i < len(children):
                stack.append((node, i + 1))
                child = children[i]
                if state.get(child) == 1:
                    return [*path[path.index(child) :], child]
                if not state.get(child):
                    stack.append((child, 0))
            else:
                state[node] = 2
                path.pop()
    return None


def layers(order: Sequence[str], deps: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Kahn's layers: each node in the first layer after all of its dependencies; within
    a layer, the order the nodes were declared in. ``deps`` must be acyclic."""
    depth: dict[str, int] = {}
    remaining = list(order)
    while remaining:
        later = []
        for node in remaining:
            if all(d in depth for d in deps.get(node, ())):
                depth[node] = 1 + max((depth[d] for d in deps.get(node, ())), default=-1)
            else:
                later.append(node)
        if len(later) == len(remaining):
            raise ValueError(f"not acyclic: {later}")
        remaining = later
    out: list[list[str]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
    for node in order:
        out[depth[node]].append(node)
    return out


def upstream(deps: Mapping[str, Sequence[str]]) -> dict[str, frozenset[str]]:
    """Every node's transitive dependencies."""
    out: dict[str, frozenset[str]] = {}

    def of(node: str) -> frozenset[str]:
        if node not in out:
            found: set[str] = set()
            stack = list(deps.get(node, ()))
            while stack:
                d = stack.pop()
                if d not in found:
                    found.add(d)
                    stack.extend(deps.get(d, ()))
            out[node] = frozenset(found)
        return out[node]

    for node in deps:
        of(node)
    return out
