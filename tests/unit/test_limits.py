import resource

from app.engine.limits import ephemeral_ports, port_exhaustion_warning, raise_nofile_limit


def test_port_exhaustion_is_warned_only_when_it_can_happen():
    ports = ephemeral_ports()
    assert ports and ports > 1000
    assert port_exhaustion_warning(True, None) is None
    assert port_exhaustion_warning(False, ports) is None
    for planned in (None, ports + 1):
        warning = port_exhaustion_warning(False, planned)
        assert f"{ports:,}" in warning and "address_not_available" in warning


def test_soft_open_file_limit_is_raised_to_the_hard_one():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        raised = raise_nofile_limit()
        assert raised == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert raised == (hard if hard != resource.RLIM_INFINITY else raised) and raised >= 256
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
