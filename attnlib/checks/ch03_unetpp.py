"""Checks for notebook 03 (UNet++)."""

import torch

from ..models import SSEGate, UNetPlusPlus
from ._core import correct, exercise, expect


def _wiring(depth: int = 4) -> dict[str, set[str]]:
    """Reference: which node outputs actually enter each node x_i_j (j >= 1), traced in a forward
    pass."""
    model = UNetPlusPlus(widths=(2,) * (depth + 1)).eval()
    seen = {}
    hooks = [
        node.register_forward_hook(lambda mod, args, out, name=name: seen.__setitem__(name, args))
        for name, node in model.nodes.items()
    ]
    with torch.no_grad():
        feats = model.inspect(torch.zeros(1, 1, 2**depth, 2**depth)).features  # {"x_i_j": tensor}
    for h in hooks:
        h.remove()
    name_of = {id(t): n for n, t in feats.items()}
    return {
        name: {name_of[id(args[0])]} | {name_of[id(s)] for s in args[1]}
        for name, args in seen.items()
    }


def _as_name(item) -> str:
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return f"x_{int(item[0])}_{int(item[1])}"
    return str(item)


@exercise(
    "3.1",
    "write node_inputs(i, j): the names 'x_a_b' of the nodes whose outputs enter x_i_j, the "
    "up-sampled one included",
)
def check_node_inputs(fn):
    """``fn(i, j)``: names of the nodes whose outputs enter x_i_j (depth 4), e.g.
    ``["x_1_0", "x_0_0"]``."""
    for node, want in _wiring(4).items():
        i, j = (int(v) for v in node.split("_")[1:])
        got = fn(i, j)
        got = [_as_name(g) for g in got]
        expect(len(got) == len(set(got)), f"node_inputs({i}, {j}) lists a node twice: {got}.")
        expect(
            set(got) == want,
            f"node_inputs({i}, {j}) = {sorted(got)}, but the model feeds {node} with "
            f"{sorted(want)}. Eq. 1: the up-sampled node one level below and one column "
            "to the left, plus every earlier node of the same level.",
        )
    correct("x_i_j sees the node below-left and all j nodes to its left: j + 1 inputs.")


@exercise(
    "3.2",
    "write count_nodes(L): the number of nodes x_i_j with i + j <= L",
)
def check_count_nodes(fn):
    """``fn(L)``: number of nodes x_i_j (encoder included) of a UNet++ of depth L."""
    for depth in range(1, 7):
        model = UNetPlusPlus(widths=(1,) * (depth + 1))
        want = len(model.encoder) + len(model.nodes)
        got = fn(depth)
        expect(
            got == want,
            f"count_nodes({depth}) = {got}, the model has {want} nodes. Count the pairs (i, j) "
            f"with i, j >= 0 and i + j <= {depth}.",
        )
    correct("(L+1)(L+2)/2 nodes: a triangle, 15 for the paper's L = 4.")


@exercise(
    "3.3",
    "write count_skips(L): the number of skip inputs (one sSE gate each) of a UNet++ of depth L",
)
def check_count_skips(fn):
    """``fn(L)``: number of skip inputs x_i_k -> x_i_j (= gates with attention) of a UNet++ of depth
    L."""
    for depth in range(1, 7):
        model = UNetPlusPlus(widths=(1,) * (depth + 1), gate="sse")
        want = sum(isinstance(m, SSEGate) for m in model.modules())
        got = fn(depth)
        expect(
            got == want,
            f"count_skips({depth}) = {got}, but the gated model has {want} sSE gates (one per "
            "skip input). Node x_i_j has j skip inputs; sum j over all decoder nodes.",
        )
    correct("a UNet of the same depth has L skips; UNet++ has L(L+1)(L+2)/6, 20 gates at L = 4.")
