"""https targets: a self-signed certificate is refused when verifying, served when not."""
import ssl
import subprocess

import pytest
from aiohttp import web

from app.engine import start
from app.spec import parse_spec


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
async def https_url(aiohttp_server, certificate):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    async def handler(request):
        return web.Response(text="secure")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    server = await aiohttp_server(app, ssl=context)
    return f"https://127.0.0.1:{server.port}/{{i}}"


@pytest.mark.parametrize("engine", ["aiohttp", "fast", "sync"])
async def test_self_signed_target(https_url, engine):
    for verify, expected in ((False, {"200": 6}), (True, {})):
        run = await start(parse_spec({"url": https_url, "requests": 6, "concurrency": 2,
                                      "engine": engine, "verify_tls": verify}))
        async for _ in run:
            pass
        summary = run.summary.to_dict()
        assert summary["status_codes"] == expected
        if verify:
            assert summary["error_classes"] == {"tls_failure": 6}, summary
            assert "certificate" in summary["error_samples"]["tls_failure"].lower()
        else:
            assert summary["errors"] == 0 and summary["bytes"] == 6 * len("secure")
