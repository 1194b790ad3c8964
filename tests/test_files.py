"""The local-input policy: only real images inside the allowed folders are read, and refusals all look alike."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from providers.errors import InvalidArgument
from providers.sniff import sniff_image
from server.files import InputPolicy
from tests.support import png_bytes

CAP = 1024 * 1024


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    folder = tmp_path / "allowed"
    folder.mkdir()
    return folder


@pytest.fixture
def policy(allowed: Path) -> InputPolicy:
    return InputPolicy([allowed], CAP)


def refusal(policy: InputPolicy, value: str) -> str:
    with pytest.raises(InvalidArgument) as info:
        policy.image("image_urls[0]", value)
    assert info.value.field == "image_urls[0]"
    return info.value.message


def test_a_png_inside_the_allowed_folder_is_read_as_an_inline_image(policy: InputPolicy, allowed: Path) -> None:
    (allowed / "cat.png").write_bytes(png_bytes())
    media = policy.image("image_urls[0]", str(allowed / "cat.png"))
    assert media.mime == "image/png" and media.local and media.raw() == png_bytes() and media.size == len(png_bytes())
    assert media.wire().startswith("data:image/png;base64,")


def test_png_bytes_named_jpg_are_sent_with_the_sniffed_type(policy: InputPolicy, allowed: Path) -> None:
    (allowed / "photo.jpg").write_bytes(png_bytes())
    assert policy.image("image_urls[0]", str(allowed / "photo.jpg")).mime == "image/png"


def test_https_urls_pass_through_and_plain_http_is_refused(policy: InputPolicy) -> None:
    assert policy.image("image_urls[0]", "https://example.com/a.png").url == "https://example.com/a.png"
    with pytest.raises(InvalidArgument, match="https"):
        policy.image("image_urls[0]", "http://example.com/a.png")


def test_a_data_uri_is_decoded_and_must_hold_an_image(policy: InputPolicy) -> None:
    uri = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    assert policy.image("image_urls[0]", uri).mime == "image/png"
    with pytest.raises(InvalidArgument, match="does not hold"):
        policy.image("image_urls[0]", "data:image/png;base64," + base64.b64encode(b"hello").decode())


def test_a_missing_file_and_a_forbidden_file_get_the_same_refusal(policy: InputPolicy, allowed: Path) -> None:
    missing = refusal(policy, str(allowed / "nope.png"))
    outside = refusal(policy, "/etc/passwd")
    assert "not allowed" in missing and "not allowed" in outside
    assert missing.replace(str(allowed / "nope.png"), "X") == outside.replace("/etc/passwd", "X")


@pytest.mark.parametrize(
    "value",
    ["/etc/passwd", "../../etc/passwd", "/proc/self/environ", "/dev/zero", "~/.ssh/id_rsa", ""],
)
def test_paths_outside_the_allowed_folders_are_refused(policy: InputPolicy, value: str) -> None:
    assert "not allowed" in refusal(policy, value)


def test_a_relative_escape_from_the_allowed_folder_is_refused(policy: InputPolicy, allowed: Path) -> None:
    (allowed.parent / "secret.png").write_bytes(png_bytes())
    assert "not allowed" in refusal(policy, str(allowed / ".." / "secret.png"))


def test_a_sibling_folder_sharing_the_allowed_prefix_is_refused(policy: InputPolicy, allowed: Path) -> None:
    sibling = allowed.parent / (allowed.name + "-evil")
    sibling.mkdir()
    (sibling / "x.png").write_bytes(png_bytes())
    assert "not allowed" in refusal(policy, str(sibling / "x.png"))


def test_a_symlink_to_a_file_outside_is_refused(policy: InputPolicy, allowed: Path, tmp_path: Path) -> None:
    target = tmp_path / "outside.png"
    target.write_bytes(png_bytes())
    (allowed / "link.png").symlink_to(target)
    assert "not allowed" in refusal(policy, str(allowed / "link.png"))


def test_a_symlinked_parent_folder_pointing_outside_is_refused(
    policy: InputPolicy, allowed: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.png").write_bytes(png_bytes())
    (allowed / "door").symlink_to(outside, target_is_directory=True)
    assert "not allowed" in refusal(policy, str(allowed / "door" / "x.png"))


def test_a_symlink_inside_the_allowed_folder_to_an_allowed_file_is_read(policy: InputPolicy, allowed: Path) -> None:
    (allowed / "real.png").write_bytes(png_bytes())
    (allowed / "alias.png").symlink_to(allowed / "real.png")
    assert policy.image("image_urls[0]", str(allowed / "alias.png")).mime == "image/png"


def test_non_image_bytes_named_png_are_refused(policy: InputPolicy, allowed: Path) -> None:
    (allowed / "cat.png").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    assert "not allowed" in refusal(policy, str(allowed / "cat.png"))


def test_a_file_one_byte_over_the_cap_is_refused(policy: InputPolicy, allowed: Path) -> None:
    data = png_bytes()
    (allowed / "big.png").write_bytes(data + b"\0" * (CAP + 1 - len(data)))
    assert "not allowed" in refusal(policy, str(allowed / "big.png"))
    (allowed / "fits.png").write_bytes(data + b"\0" * (CAP - len(data)))
    assert policy.image("image_urls[0]", str(allowed / "fits.png")).size == CAP


def test_an_empty_file_a_directory_and_a_fifo_are_refused_without_blocking(policy: InputPolicy, allowed: Path) -> None:
    (allowed / "empty.png").write_bytes(b"")
    (allowed / "folder.png").mkdir()
    os.mkfifo(allowed / "pipe.png")
    for name in ("empty.png", "folder.png", "pipe.png"):
        assert "not allowed" in refusal(policy, str(allowed / name))


def test_files_in_dot_folders_are_refused_even_inside_an_allowed_folder(policy: InputPolicy, allowed: Path) -> None:
    (allowed / ".ssh").mkdir()
    (allowed / ".ssh" / "key.png").write_bytes(png_bytes())
    assert "not allowed" in refusal(policy, str(allowed / ".ssh" / "key.png"))


def test_the_root_and_home_folders_are_never_allowed_folders() -> None:
    policy = InputPolicy([Path("/"), Path.home()], CAP)
    assert policy.allowed_dirs == ()
    with pytest.raises(InvalidArgument):
        policy.image("image_urls[0]", "/etc/hostname")


def test_video_and_audio_inputs_must_be_https(policy: InputPolicy) -> None:
    assert policy.remote("video_url", "https://example.com/v.mp4").url == "https://example.com/v.mp4"
    for bad in ("/tmp/v.mp4", "http://example.com/v.mp4", "data:video/mp4;base64,AAAA"):
        with pytest.raises(InvalidArgument, match="https"):
            policy.remote("video_url", bad)


def test_sniff_recognises_each_supported_image_format() -> None:
    assert sniff_image(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert sniff_image(b"GIF89a....") == "image/gif"
    assert sniff_image(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert sniff_image(b"\0\0\0\x1cftypavif") == "image/avif"
    assert sniff_image(b"%PDF-1.7") is None


def test_a_folder_swapped_for_a_symlink_between_check_and_open_is_refused(
    policy: InputPolicy, allowed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (allowed / "pics").mkdir()
    (allowed / "pics" / "x.png").write_bytes(png_bytes(color=(1, 2, 3)))
    outside = tmp_path / "secret-pics"
    outside.mkdir()
    (outside / "x.png").write_bytes(png_bytes(color=(9, 9, 9)))
    real_open = os.open

    def swapping_open(path: str, flags: int, *args: int) -> int:
        # The attacker's move, right after the checks: the checked folder becomes a link to another one.
        (allowed / "pics").rename(allowed / "pics-old")
        (allowed / "pics").symlink_to(outside, target_is_directory=True)
        monkeypatch.setattr(os, "open", real_open)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", swapping_open)
    assert "not allowed" in refusal(policy, str(allowed / "pics" / "x.png"))


def test_a_local_image_is_kept_as_one_ready_data_uri_identical_to_plain_base64(
    policy: InputPolicy, allowed: Path
) -> None:
    data = png_bytes(300, 200) + bytes(range(256)) * 40  # a size that is not a multiple of 3
    (allowed / "odd.png").write_bytes(data)
    media = policy.image("image_urls[0]", str(allowed / "odd.png"))
    assert media.data is None and media.size == len(data)
    assert media.wire() == "data:image/png;base64," + base64.b64encode(data).decode()
