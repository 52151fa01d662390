"""What the S3 artifact store does beyond the shared contract, on real S3-compatible servers: parts
of 5 MiB and more are stitched server-side (moto) or streamed (rclone, no UploadPartCopy), requests
are signed (rclone checks SigV4), links are presigned GETs honouring Range, and no multipart upload
is left unfinished."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
import httpx
import pytest

from logsluice.adapters.artifacts import S3ArtifactStore, build_artifact_store
from logsluice.adapters.artifacts.s3_client import S3Location, parse_s3_url
from logsluice.domain.errors import ArtifactStoreDeniedError, InvalidInputError
from tests.s3_server import S3Bucket, S3Server

KEY = "shop/0123abcd/export.csv.zst"
MIB = 1024 * 1024


def s3_store(server: S3Server, bucket: str, *, secret: str | None = None) -> S3ArtifactStore:
    location = S3Location(
        bucket=bucket,
        prefix="exports",
        endpoint=server.endpoint,
        region=server.region,
        access_key_id=server.access_key_id,
        secret_access_key=secret or server.secret_access_key,
    )
    return S3ArtifactStore(location)


def raw_client(server: S3Server) -> boto3.session.Session:
    return server.client()


def write_part(store: S3ArtifactStore, number: int, data: bytes) -> None:
    writer = store.open_part(KEY, number)
    for start in range(0, len(data), MIB):
        writer.write(data[start : start + MIB])
    writer.commit()


def stitch_and_check(store: S3ArtifactStore) -> None:
    """Parts below, at and above the 5 MiB minimum, in every neighbourhood, come out exact."""
    big, small, bigger = os.urandom(6 * MIB), b"small part", os.urandom(11 * MIB + 3)
    exact = os.urandom(5 * MIB)
    for number, data in enumerate([big, small, bigger, exact, small], start=1):
        write_part(store, number, data)
    size = store.complete(KEY, [1, 2, 3, 4, 5], head=b"HEAD\n", tail=b"TAIL")
    expected = b"HEAD\n" + big + small + bigger + exact + small + b"TAIL"
    assert size == len(expected) == store.size(KEY)
    assert b"".join(store.read(KEY)) == expected
    assert b"".join(store.read(KEY, 6 * MIB, 6 * MIB + 100)) == expected[6 * MIB : 6 * MIB + 100]
    assert store.list_parts(KEY) == []
    assert store.unfinished_uploads(datetime.now(UTC) + timedelta(days=1)) == []


@pytest.mark.slow
def test_big_and_small_parts_stitch_exactly_with_server_side_copies(s3_bucket: S3Bucket) -> None:
    store = s3_store(s3_bucket.server, s3_bucket.name)
    stitch_and_check(store)


@pytest.mark.slow
def test_a_sigv4_server_without_part_copies_gets_the_streamed_copy(
    sigv4_s3_server: S3Server,
) -> None:
    raw_client(sigv4_s3_server).create_bucket(Bucket="streamed")
    store = s3_store(sigv4_s3_server, "streamed")
    stitch_and_check(store)
    store.delete(KEY)
    assert not store.exists(KEY)


def test_a_wrong_secret_is_refused_by_a_sigv4_server(sigv4_s3_server: S3Server) -> None:
    raw_client(sigv4_s3_server).create_bucket(Bucket="signed")
    good = s3_store(sigv4_s3_server, "signed")
    good.put("shop/t/manifest.json", b"{}")
    bad = s3_store(sigv4_s3_server, "signed", secret="not-the-secret")
    with pytest.raises(ArtifactStoreDeniedError) as refused:
        b"".join(bad.read("shop/t/manifest.json"))
    assert refused.value.details["store"] == "s3://signed/exports"
    with pytest.raises(ArtifactStoreDeniedError):
        bad.put("shop/t/other.json", b"{}")
    assert b"".join(good.read("shop/t/manifest.json")) == b"{}"


def test_a_link_is_a_presigned_get_with_range_and_file_name(s3_bucket: S3Bucket) -> None:
    store = s3_store(s3_bucket.server, s3_bucket.name)
    store.put(KEY, b"0123456789")
    expires_at = datetime.now(UTC) + timedelta(minutes=10)
    url = store.link(KEY, filename='errors "today".csv.zst', expires_at=expires_at)
    assert url is not None
    assert url.startswith(f"{s3_bucket.server.endpoint}/{s3_bucket.name}/exports/shop/")
    whole = httpx.get(url)
    assert whole.content == b"0123456789"
    assert whole.headers["content-disposition"] == 'attachment; filename="errors _today_.csv.zst"'
    ranged = httpx.get(url, headers={"Range": "bytes=2-4"})
    assert (ranged.status_code, ranged.content) == (206, b"234")
    assert "X-Amz-Expires=600" in url or "X-Amz-Expires=599" in url


def test_links_through_logsluice_when_asked(s3_bucket: S3Bucket) -> None:
    location = parse_s3_url(s3_bucket.url("exports"))
    store = S3ArtifactStore(location, direct_links=False)
    assert store.link(KEY, filename="a.csv", expires_at=datetime.now(UTC)) is None


def test_delete_aborts_the_unfinished_uploads_of_the_key(s3_bucket: S3Bucket) -> None:
    store = s3_store(s3_bucket.server, s3_bucket.name)
    client = raw_client(s3_bucket.server)
    other = "shop/ffff0000/export.csv"
    for key in (KEY, other):  # a worker died inside complete(): its upload stays open
        client.create_multipart_upload(Bucket=s3_bucket.name, Key=f"exports/{key}")
    write_part(store, 1, b"one")
    later = datetime.now(UTC) + timedelta(days=1)
    assert sorted(upload.key for upload in store.unfinished_uploads(later)) == [KEY, other]
    store.delete(KEY)
    assert [upload.key for upload in store.unfinished_uploads(later)] == [other]
    assert store.list_parts(KEY) == []
    (abandoned,) = store.unfinished_uploads(later)
    store.abort_upload(abandoned)
    store.abort_upload(abandoned)  # gone already: fine
    assert store.unfinished_uploads(later) == []
    listing = client.list_objects_v2(Bucket=s3_bucket.name)
    assert listing.get("Contents", []) == []


def test_delete_and_complete_abort_a_parts_upload_an_outage_left(s3_bucket: S3Bucket) -> None:
    store = s3_store(s3_bucket.server, s3_bucket.name)
    client = raw_client(s3_bucket.server)
    for number in (1, 2):  # a big part's upload whose abort the outage kept from arriving
        part_key = store.part_key(KEY, number)
        client.create_multipart_upload(Bucket=s3_bucket.name, Key=part_key)
    write_part(store, 1, b"one")
    store.complete(KEY, [1])
    assert client.list_multipart_uploads(Bucket=s3_bucket.name).get("Uploads", []) == []
    client.create_multipart_upload(Bucket=s3_bucket.name, Key=store.part_key(KEY, 1))
    store.delete(KEY)
    assert client.list_multipart_uploads(Bucket=s3_bucket.name).get("Uploads", []) == []


def test_completing_again_after_a_publish_whose_parts_were_partly_removed(
    s3_bucket: S3Bucket,
) -> None:
    """The store failed between publishing and removing the parts: the file is published."""
    store = s3_store(s3_bucket.server, s3_bucket.name)
    for number in (1, 2, 3):
        write_part(store, number, f"part {number};".encode())
    size = store.complete(KEY, [1, 2, 3], head=b"H;")
    published = b"".join(store.read(KEY))
    for number in (2, 3):  # left over from a removal cut short
        write_part(store, number, f"part {number};".encode())
    assert store.complete(KEY, [1, 2, 3], head=b"H;") == size
    assert b"".join(store.read(KEY)) == published == b"H;part 1;part 2;part 3;"
    assert store.list_parts(KEY) == []


def test_the_url_and_the_standard_variables_configure_the_client(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = s3_bucket.server
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env-secret")
    with_keys = (
        f"s3://AKID:se%2Fcret@{s3_bucket.name}/a/b?endpoint={server.endpoint}&region=eu-west-1"
    )
    location = parse_s3_url(with_keys)
    assert location == S3Location(
        bucket=s3_bucket.name,
        prefix="a/b",
        endpoint=server.endpoint,
        region="eu-west-1",
        access_key_id="AKID",
        secret_access_key="se/cret",
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    store = build_artifact_store(f"s3://{s3_bucket.name}/from-env")
    store.put("p/t/manifest.json", b"{}")
    listing = raw_client(server).list_objects_v2(Bucket=s3_bucket.name)
    assert [item["Key"] for item in listing["Contents"]] == ["from-env/p/t/manifest.json"]


@pytest.mark.parametrize(
    "url", ["s3:///no-bucket", "s3://bucket/p?endpoint=x&colour=blue", "s3://"]
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_s3_url(url)


def test_virtual_hosted_addressing_puts_the_bucket_in_the_host_name() -> None:
    """Alibaba OSS takes only virtual-hosted requests; a presigned link shows the form used."""
    location = S3Location(
        bucket="shop-exports",
        prefix="logs",
        endpoint="https://oss-cn-hangzhou.aliyuncs.com",
        region="cn-hangzhou",
        access_key_id="LTAI-example",
        secret_access_key="example-secret",
        addressing_style="virtual",
    )
    url = S3ArtifactStore(location).link(
        KEY, filename="export.csv.zst", expires_at=datetime.now(UTC) + timedelta(minutes=5)
    )
    assert url is not None
    assert url.startswith(f"https://shop-exports.oss-cn-hangzhou.aliyuncs.com/logs/{KEY}?")
    path_style = S3ArtifactStore(replace(location, addressing_style="path"))
    other = path_style.link(KEY, filename="a", expires_at=datetime.now(UTC) + timedelta(minutes=5))
    assert other is not None
    assert other.startswith(f"https://oss-cn-hangzhou.aliyuncs.com/shop-exports/logs/{KEY}?")
