from cookbook import get_registry
from cookbook.engine import SampleMaker, resolve_token_space


def test_reverse_samples_follow_their_rule():
    reverse = get_registry().get("templates", "reverse")
    params = reverse.resolve()  # the defaults, validated
    maker = SampleMaker(reverse, "reverse", params, 0, resolve_token_space("pseudowords"))
    record = maker.record(0)
    assert record["slots"]["answer"].split() == record["slots"]["words"].split()[::-1]
    assert reverse.align(record["slots"], record["slots"]["answer"], params) == 1.0
