"""ImgBed-compatible names, folders and ids, and what hostile names turn into."""

import random
import re
import unicodedata

import pytest

from uploads.naming import (
    MAX_FOLDER_DEPTH,
    NAME_TYPES,
    UNSAFE,
    NoFreeId,
    clean_folder,
    clean_name,
    make_id,
    split_extension,
)

# clean_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # ImgBed's own examples
        ("small.png", "small.png"),
        ("my pic ünï 图片 (1).png", "my_pic_ünï_图片__1_.png"),
        ("../../small.png", "small.png"),
        # paths of either kind are dropped
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("C:\\Users\\me\\Desktop\\shot.png", "shot.png"),
        ("/var/www/html/index.php", "index.php"),
        ("dir/", "file"),
        # every unsafe character becomes `_`
        ("100%.png", "100_.png"),
        ("a?b#c.png", "a_b_c.png"),
        ("a:b*c\"d'e<f>g|h.png", "a_b_c_d_e_f_g_h.png"),
        ("[x]{y}(z).png", "_x__y__z_.png"),
        ("a^b`c~d;e@f&g=h+i$j,k.png", "a_b_c_d_e_f_g_h_i_j_k.png"),
        ("tab\there.png", "tab_here.png"),
        ("line\u2028sep.png", "line_sep.png"),
        ("no-break\u00a0space.png", "no-break_space.png"),
        ("ideographic\u3000space.png", "ideographic_space.png"),
        ("keep-dash_under!.png", "keep-dash_under!.png"),
        # control and invisible characters are dropped, not replaced
        ("a\x00b.png", "ab.png"),
        ("evil\x00.php.png", "evil.php.png"),
        ("bell\x07\x1b[31m.png", "bell_31m.png"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),
        ("zero\u200bwidth\u200c\u200d\ufeff.png", "zerowidth.png"),
        ("lone\ud800surrogate.png", "lonesurrogate.png"),
        # Unicode letters, digits and emoji stay
        ("图片.jpeg", "图片.jpeg"),
        ("Ünïcödé.png", "Ünïcödé.png"),
        ("🎉 party 🎂.gif", "🎉_party_🎂.gif"),
        ("٣٤.png", "٣٤.png"),
        # NFC: a decomposed ü becomes one character
        ("u\u0308ber.png", "\u00fcber.png"),
        ("u\u200b\u0308ber.png", "\u00fcber.png"),
        # hidden and empty names
        ("..png", "file.png"),
        (".png", "file.png"),
        (".bashrc", "file.bashrc"),
        (".hidden.png", "hidden.png"),
        ("...hidden.png", "hidden.png"),
        ("....", "file"),
        (".", "file"),
        ("..", "file"),
        ("", "file"),
        ("   ", "file"),
        ("___", "file"),
        ("_.png", "file.png"),
        ("#?%.png", "file.png"),
        ("\x00\u202e", "file"),
        ("__init__.py", "__init__.py"),
        ("_config.yml", "_config.yml"),
        # trailing dots vanish on Windows; surrounding spaces are accidents
        ("name.", "name"),
        ("name...", "name"),
        (" photo.png ", "photo.png"),
        # the extension is kept as given
        ("Photo.PNG", "Photo.PNG"),
        ("archive.tar.gz", "archive.tar.gz"),
        ("version 1.2 notes", "version_1.2_notes"),
        # Windows device names get a `_`
        ("CON", "CON_"),
        ("con.png", "con_.png"),
        ("Nul.tar.gz", "Nul_.tar.gz"),
        ("COM1.txt", "COM1_.txt"),
        ("lpt9.jpg", "lpt9_.jpg"),
        ("COM¹.png", "COM¹_.png"),
        ("CONSOLE.png", "CONSOLE.png"),
        ("icon.png", "icon.png"),
    ],
)
def test_clean_name(raw, expected):
    assert clean_name(raw) == expected


def test_none_is_treated_as_empty():
    assert clean_name(None) == "file"


@pytest.mark.parametrize(
    ("raw", "ext"),
    [
        ("a" * 1000 + ".png", ".png"),
        ("图" * 1000 + ".jpeg", ".jpeg"),
        ("🎉" * 1000 + ".gif", ".gif"),
        ("a" * 1000, ""),
    ],
)
@pytest.mark.parametrize("max_length", [32, 100, 200, 255])
def test_long_names_are_trimmed_to_bytes_keeping_the_extension(raw, ext, max_length):
    cleaned = clean_name(raw, max_length=max_length)
    assert len(cleaned.encode("utf-8")) <= max_length
    assert len(cleaned.encode("utf-8")) > max_length - 4  # cut at most one character short
    assert cleaned.endswith(ext)
    assert raw.startswith(cleaned[: len(cleaned) - len(ext)])


def test_trimming_never_leaves_a_dangling_dot():
    # No extension here (`x_y` is not one), so the cut falls right after the dot.
    assert clean_name("a" * 199 + ".x_y") == "a" * 199
    assert clean_name("a" * 199 + "." + "b" * 50) == "a" * 199


def test_a_tiny_max_length_is_refused():
    with pytest.raises(ValueError, match="max_length"):
        clean_name("a.png", max_length=8)


HOSTILE_NAMES = [
    "../../etc/passwd",
    "..\\..\\boot.ini",
    "a\x00b.png",
    "x\u202eexe.png",
    "a" * 1000,
    "." * 50,
    "🎉",
    "100%.png",
    "a?b#c.png",
    "<script>alert(1)</script>.html",
    "javascript:alert(1)",
    "%2e%2e%2f%2e%2e%2fpasswd",
    "....//....//etc",
    "name\r\nSet-Cookie: x=y.png",
    'a"; filename="evil.exe',
    "\u3000\u00a0\t",
    "NUL",
    "file:///etc/passwd",
    "\\\\server\\share\\x.png",
    "ｆｕｌｌｗｉｄｔｈ／ｓｌａｓｈ.png",
]


@pytest.mark.parametrize("raw", HOSTILE_NAMES)
def test_hostile_names_become_safe(raw):
    cleaned = clean_name(raw)
    assert cleaned
    assert not (set(cleaned) & UNSAFE)
    assert not any(ch.isspace() for ch in cleaned)
    assert not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in cleaned)
    assert not cleaned.startswith(".")
    assert not cleaned.endswith(".")
    assert cleaned not in (".", "..")
    assert len(cleaned.encode("utf-8")) <= 200
    assert unicodedata.normalize("NFC", cleaned) == cleaned
    assert clean_name(cleaned) == cleaned  # cleaning is idempotent


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("a.png", ("a", "png")),
        ("a.tar.gz", ("a.tar", "gz")),
        ("README", ("README", "")),
        ("a.b_c", ("a.b_c", "")),
        ("a.", ("a.", "")),
        ("a.verylongextension12", ("a.verylongextension12", "")),
        ("a.图片", ("a.图片", "")),
        ("Photo.JPG", ("Photo", "JPG")),
    ],
)
def test_split_extension(name, parts):
    assert split_extension(name) == parts


# clean_folder


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        (None, ""),
        ("/", ""),
        ("a", "a"),
        ("a/b", "a/b"),
        ("/a/b/", "a/b"),
        ("a//b", "a/b"),
        ("a\\b\\c", "a/b/c"),
        ("./a/./b", "a/b"),
        (" a / b ", "a/b"),
        ("my pics/2024 (old)", "my_pics/2024__old_"),
        ("图片/ünï", "图片/ünï"),
        (".git/.hidden", "git/hidden"),
        ("a#b/c?d", "a_b/c_d"),
        ("con/aux", "con_/aux_"),
        ("a\x00/b\u202e", "a/b"),
        ("x" * 300, "x" * 100),
        ("/".join("abcdefghij"), "a/b/c/d/e/f/g/h/i/j"),
    ],
)
def test_clean_folder(raw, expected):
    assert clean_folder(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "..",
        "../x",
        "a/..",
        "a/../b",
        "..\\..\\windows",
        "a/ .. /b",
        "a/.../b",
        "a/..\u200b/b",
        "a/.\u200b./b",
    ],
)
def test_folder_traversal_is_refused(raw):
    with pytest.raises(ValueError, match=re.escape("uploadFolder may not contain '..'")):
        clean_folder(raw)


def test_too_deep_a_folder_is_refused():
    assert clean_folder("/".join(["a"] * MAX_FOLDER_DEPTH)) == "/".join(["a"] * MAX_FOLDER_DEPTH)
    with pytest.raises(ValueError, match="at most 10 levels"):
        clean_folder("/".join(["a"] * (MAX_FOLDER_DEPTH + 1)))


# make_id


class FixedRandom(random.Random):
    """randint gives the same number each time; choice stays seeded-random."""

    def __init__(self, value: int):
        super().__init__(42)
        self.value = value

    def randint(self, a, b):
        assert (a, b) == (0, 9999)
        return self.value


def taken(*ids):
    return lambda candidate: candidate in ids


def no_index():
    raise AssertionError("next_index must only be called for index names")


def test_default_is_timestamp_plus_random_then_the_name():
    made = make_id(
        "default",
        "small.png",
        "png",
        exists=taken(),
        next_index=no_index,
        now_ms=lambda: 1795930630000,
        rand=FixedRandom(9360),
    )
    assert made == "1795930639360_small.png"


def test_default_with_the_real_clock_has_13_digits():
    made = make_id("default", "small.png", "png", exists=taken(), next_index=no_index)
    assert re.fullmatch(r"\d{13}_small\.png", made)


def test_default_collision_is_numbered_like_imgbed():
    kwargs = {"next_index": no_index, "now_ms": lambda: 1795930630000, "rand": FixedRandom(9360)}
    made = make_id("default", "small.png", "png", exists=taken("1795930639360_small.png"), **kwargs)
    assert made == "1795930639360_small(1).png"


@pytest.mark.parametrize(
    ("clean", "extension", "existing", "expected"),
    [
        ("small.png", "png", (), "5.png"),
        ("small.png", "jpg", (), "5.png"),  # the name's extension wins
        ("README", "txt", (), "5.txt"),  # no extension in the name: the sniffed one
        ("README", ".txt", (), "5.txt"),
        ("README", "", (), "5"),
        ("small.png", "png", ("5.png", "6.png"), "7.png"),  # numbers stay numbers
        ("small.png", "png", ("5.jpg",), "5.png"),
    ],
)
def test_index(clean, extension, existing, expected):
    assert make_id("index", clean, extension, exists=taken(*existing), next_index=lambda: 5) == expected


@pytest.mark.parametrize(
    ("clean", "existing", "expected"),
    [
        ("small.png", (), "small.png"),
        ("small.png", ("small.png",), "small(1).png"),
        ("small.png", ("small.png", "small(1).png"), "small(2).png"),
        ("archive.tar.gz", ("archive.tar.gz",), "archive.tar(1).gz"),
        ("README", ("README",), "README(1)"),
        ("图片.jpg", ("图片.jpg",), "图片(1).jpg"),
    ],
)
def test_origin(clean, existing, expected):
    assert make_id("origin", clean, "bin", exists=taken(*existing), next_index=no_index) == expected


def test_short_is_eight_base62_characters_and_the_extension():
    made = make_id("short", "small.png", "png", exists=taken(), next_index=no_index)
    assert re.fullmatch(r"[0-9A-Za-z]{8}\.png", made)
    assert re.fullmatch(
        r"[0-9A-Za-z]{8}\.webp", make_id("short", "paste", "webp", exists=taken(), next_index=no_index)
    )
    assert re.fullmatch(r"[0-9A-Za-z]{8}", make_id("short", "paste", "", exists=taken(), next_index=no_index))


def test_short_retries_a_taken_id():
    first = make_id("short", "a.png", "png", exists=taken(), next_index=no_index, rand=random.Random(7))
    again = make_id("short", "a.png", "png", exists=taken(first), next_index=no_index, rand=random.Random(7))
    assert again != first
    assert re.fullmatch(r"[0-9A-Za-z]{8}\.png", again)


def test_short_ids_are_random():
    made = {make_id("short", "a.png", "png", exists=taken(), next_index=no_index) for _ in range(200)}
    assert len(made) == 200


def test_gives_up_when_everything_is_taken():
    with pytest.raises(NoFreeId):
        make_id("short", "a.png", "png", exists=lambda _: True, next_index=no_index)
    with pytest.raises(NoFreeId):
        make_id("origin", "a.png", "png", exists=lambda _: True, next_index=no_index)


@pytest.mark.parametrize("name_type", ["", "Default", "random", "uuid", None])
def test_unknown_name_type_lists_the_valid_ones(name_type):
    with pytest.raises(ValueError) as excinfo:
        make_id(name_type, "a.png", "png", exists=taken(), next_index=no_index)
    for valid in NAME_TYPES:
        assert valid in str(excinfo.value)


@pytest.mark.parametrize("name_type", NAME_TYPES)
@pytest.mark.parametrize("raw", HOSTILE_NAMES)
def test_ids_from_hostile_names_have_no_path_parts(name_type, raw):
    made = make_id(name_type, clean_name(raw), "bin", exists=taken(), next_index=lambda: 1)
    assert "/" not in made and "\\" not in made
    assert not made.startswith(".")
    assert made not in (".", "..")
