"""The file list's batch actions in the admin: each asks what it needs on a page of its own, then
says what happened to every file, and refuses one file without stopping the others."""

import pytest

from library import batch, moves, tags
from tests.admin_pages import form_fields, outcomes, parse
from tests.channels import local_channel
from tests.manage_support import add_file
from uploads.models import FormerId, StoredFile

pytestmark = pytest.mark.django_db

LIST = "/admin/uploads/storedfile/"


@pytest.fixture
def disk(tmp_path):
    return local_channel(tmp_path, name="Disk", health="connected")


def choose(client, action, files, url=LIST, **extra):
    """Tick the files on the list, pick the action and press Go."""
    data = {"action": action, "index": 0, "_selected_action": [f.pk for f in files], **extra}
    return client.post(url, data)


def submit(client, page, url=LIST, **fields):
    """Fill the action's own form page and send it, as the browser would post it."""
    data = {}
    for name, value in form_fields(page, "batch-form"):
        if name not in fields:
            data.setdefault(name, []).append(value)
    data.update(fields)
    return client.post(url, data)


def ids_of(*files):
    return {StoredFile.objects.get(pk=f.pk).public_id for f in files}


def test_move_asks_for_the_folder_then_says_what_happened_to_each_file(staff_client, client, disk):
    first = add_file(disk, "other/one.png")
    second = add_file(disk, "src/one.png")  # same name as the first: its new id is taken by then
    third = add_file(disk, "src/two.png")
    there = add_file(disk, "dest/two.png", size=4321)

    asked = choose(staff_client, "move_files", [first, second, third])
    assert asked.status_code == 200
    page = parse(asked)
    assert [li.text() for li in page.one("ul", cls="batch-files").all("li")] == [
        "other/one.png",
        "src/one.png",
        "src/two.png",
    ]
    assert page.one("input", name="destination")
    assert ids_of(first, second, third) == {"other/one.png", "src/one.png", "src/two.png"}  # not yet

    done = submit(staff_client, asked, destination="dest")
    assert done.status_code == 200
    assert outcomes(done) == {
        "other/one.png": ("done", "Moved to dest/one.png; its old link leads there."),
        "src/one.png": ("refused", "Refused: A file with the id dest/one.png already exists."),
        "src/two.png": ("refused", "Refused: A file with the id dest/two.png already exists."),
    }
    assert parse(done).one("p", id="batch-summary").text() == "1 done, 0 unchanged, 2 refused, of 3 files."
    assert ids_of(first, second, third) == {"dest/one.png", "src/one.png", "src/two.png"}
    # The file already there is the same file, not overwritten.
    assert StoredFile.objects.get(public_id="dest/two.png").pk == there.pk
    assert StoredFile.objects.get(pk=there.pk).size == 4321
    # The moved file's old link leads to its new one.
    assert client.get("/file/other/one.png").headers["Location"] == "/file/dest/one.png"


def test_a_move_onto_an_old_link_or_of_a_deleted_file_is_refused(staff_client, disk):
    earlier = add_file(disk, "x/a.png")
    moves.move(earlier, "y/a.png")  # x/a.png now leads to y/a.png
    hopeful = add_file(disk, "z/a.png")
    gone = add_file(disk, "z/gone.png", status=StoredFile.Status.DELETED)
    home = add_file(disk, "x/b.png")

    done = submit(staff_client, choose(staff_client, "move_files", [hopeful, gone, home]), destination="x/")
    assert outcomes(done) == {
        "x/b.png": ("unchanged", "Already in x."),
        "z/a.png": ("refused", "Refused: x/a.png is the old link of y/a.png, which still leads there."),
        "z/gone.png": ("refused", "Refused: a deleted file keeps its id."),
    }
    assert ids_of(hopeful, gone, home) == {"z/a.png", "z/gone.png", "x/b.png"}
    assert FormerId.objects.get(public_id="x/a.png").file_id == earlier.pk


def test_a_file_still_arriving_is_not_moved(staff_client, disk):
    arriving = add_file(disk, "big/video.mp4", content_type="video/mp4", receiving=True)
    done = submit(staff_client, choose(staff_client, "move_files", [arriving]), destination="later")
    assert outcomes(done) == {
        "big/video.mp4": ("refused", "Refused: still arriving; move it once its upload has finished.")
    }
    assert ids_of(arriving) == {"big/video.mp4"}


def test_move_to_the_top_level(staff_client, disk):
    deep = add_file(disk, "a/b/deep.png")
    done = submit(staff_client, choose(staff_client, "move_files", [deep]), destination="")
    assert outcomes(done) == {"a/b/deep.png": ("done", "Moved to deep.png; its old link leads there.")}
    assert parse(done).one("h1").text() == "Move into the top level"


@pytest.mark.parametrize(
    "typed, error",
    [
        ("../up", "A folder may not contain '..'"),
        (
            "a:b",
            "'a:b' cannot be a folder as typed (a character ids cannot hold, or a name over 100 bytes); 'a_b' would do.",
        ),
        ("/".join(["f" * 90] * 4), "A folder path is at most 300 characters."),
        ("/".join("abcdefghijk"), "A folder may have at most 10 levels, not 11."),
    ],
)
def test_a_destination_that_is_no_folder_is_refused_in_words(staff_client, disk, typed, error):
    stored = add_file(disk, "a/x.png")
    again = submit(staff_client, choose(staff_client, "move_files", [stored]), destination=typed)
    assert again.status_code == 200
    page = parse(again)
    assert error in page.one("ul", cls="errorlist").text()
    assert page.one("input", name="destination").attrs["value"] == typed  # kept to correct it
    assert ids_of(stored) == {"a/x.png"}


def test_tags_add_remove_and_replace_with_each_file_s_tags_after(staff_client, disk):
    plain = add_file(disk, "p.png")
    tagged = add_file(disk, "t.png")
    tags.apply(tagged, "set", ["sea", "sun"])
    gone = add_file(disk, "g.png", status=StoredFile.Status.DELETED)

    asked = choose(staff_client, "tag_files", [plain, tagged, gone])
    assert asked.status_code == 200
    added = submit(staff_client, asked, change="add", names="Sea, Holiday")
    assert outcomes(added) == {
        "g.png": ("refused", "Refused: a deleted file's tags are kept."),
        "p.png": ("done", "Tags now: sea, holiday."),
        "t.png": ("done", "Tags now: sea, sun, holiday."),
    }
    assert parse(added).one("h1").text() == "Add sea, holiday"

    removed = submit(
        staff_client, choose(staff_client, "tag_files", [plain, tagged]), change="remove", names="sun"
    )
    assert outcomes(removed) == {
        "p.png": ("unchanged", "Unchanged; its tags: sea, holiday."),
        "t.png": ("done", "Tags now: sea, holiday."),
    }
    replaced = submit(
        staff_client, choose(staff_client, "tag_files", [plain, tagged]), change="set", names=""
    )
    assert outcomes(replaced) == {"p.png": ("done", "Tags now: none."), "t.png": ("done", "Tags now: none.")}
    assert tags.of_file(plain.pk) == [] and tags.of_file(tagged.pk) == []


@pytest.mark.parametrize(
    "names, error",
    [
        (
            "fine, sea!, a.b",
            "Not a valid tag: 'sea!', 'a.b'. A tag is up to 64 letters, digits, _, - or CJK characters.",
        ),
        ("x" * 65, f"Not a valid tag: '{'x' * 65}'."),
        ("  ", "Give at least one tag to add or remove."),
    ],
)
def test_bad_tag_names_are_refused_in_words_and_nothing_changes(staff_client, disk, names, error):
    stored = add_file(disk, "a.png")
    tags.apply(stored, "set", ["kept"])
    again = submit(staff_client, choose(staff_client, "tag_files", [stored]), change="add", names=names)
    assert again.status_code == 200
    assert error in parse(again).one("ul", cls="errorlist").text()
    assert "batch-outcomes" not in again.content.decode()
    assert tags.of_file(stored.pk) == ["kept"]


def test_block_allow_and_back_to_normal_per_file(staff_client, client, disk):
    normal = add_file(disk, "n.png")
    blocked = add_file(disk, "b.png", list_type=StoredFile.ListType.BLOCK)
    gone = add_file(disk, "g.png", status=StoredFile.Status.DELETED)

    done = choose(staff_client, "block_files", [normal, blocked, gone])
    assert outcomes(done) == {
        "b.png": ("unchanged", "Already blocked."),
        "g.png": ("refused", "Refused: a deleted file is served to no one."),
        "n.png": ("done", "Now blocked (was normal)."),
    }
    assert StoredFile.objects.get(pk=normal.pk).list_type == "Block"
    refused = client.get("/file/n.png")
    assert refused.status_code == 403 and refused["X-Imgbed-Refusal"] == "blocked"

    allowed = choose(staff_client, "allow_files", [normal, blocked])
    assert outcomes(allowed) == {
        "b.png": ("done", "Now allowed (white) (was blocked)."),
        "n.png": ("done", "Now allowed (white) (was blocked)."),
    }
    back = choose(staff_client, "normal_files", [normal, blocked])
    assert {o[0] for o in outcomes(back).values()} == {"done"}
    assert set(
        StoredFile.objects.filter(pk__in=[normal.pk, blocked.pk]).values_list("list_type", flat=True)
    ) == {"None"}


def test_delete_says_which_files_it_deleted(staff_client, client, disk):
    live = add_file(disk, "live.png")
    gone = add_file(disk, "gone.png", status=StoredFile.Status.DELETED)
    done = choose(staff_client, "delete_files", [live, gone])
    assert outcomes(done) == {
        "gone.png": ("unchanged", "Already deleted."),
        "live.png": ("done", "Deleted: its link stops working now; a worker removes the channel's copy."),
    }
    assert StoredFile.objects.get(pk=live.pk).status == StoredFile.Status.DELETED
    assert client.get("/file/live.png").status_code == 404


def test_the_results_page_leads_back_to_the_list_as_it_was(staff_client, disk):
    stored = add_file(disk, "a/x.png")
    url = f"{LIST}?folder=a&view=gallery"
    done = choose(staff_client, "block_files", [stored], url=url)
    assert parse(done).one("a", id="batch-back").attrs["href"] == url


def test_select_across_every_page_moves_what_the_filters_match(staff_client, disk):
    inside = [add_file(disk, f"inbox/{i}.png") for i in range(3)]
    outside = add_file(disk, "elsewhere/9.png")
    url = f"{LIST}?folder=inbox"
    asked = choose(staff_client, "move_files", inside[:1], url=url, select_across=1)
    assert parse(asked).one("p").text() == "3 files selected:"
    assert ("select_across", "1") in form_fields(asked, "batch-form")
    done = submit(staff_client, asked, url=url, destination="sorted")
    assert sorted(outcomes(done)) == ["inbox/0.png", "inbox/1.png", "inbox/2.png"]
    assert ids_of(*inside) == {"sorted/0.png", "sorted/1.png", "sorted/2.png"}
    assert ids_of(outside) == {"elsewhere/9.png"}


def test_a_batch_larger_than_one_batch_takes_is_refused_in_words(staff_client, disk, monkeypatch):
    monkeypatch.setattr(batch, "MAX_FILES", 2)
    files = [add_file(disk, f"{i}.png") for i in range(3)]
    response = choose(staff_client, "block_files", files)
    assert response.status_code == 302
    shown = staff_client.get(response["Location"]).content.decode()
    assert "One batch takes at most 2 files, and 3 are selected." in shown
    assert "Narrow the list with the filters or the search" in shown
    assert not StoredFile.objects.filter(list_type="Block").exists()


def test_people_who_are_not_staff_cannot_run_actions(client, django_user_model, disk):
    stored = add_file(disk, "a/x.png")
    django_user_model.objects.create_user("visitor", password="pw")
    client.login(username="visitor", password="pw")
    response = choose(client, "move_files", [stored], apply=1, destination="b")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert ids_of(stored) == {"a/x.png"}


def test_staff_who_may_only_view_files_are_offered_no_changing_action(client, django_user_model, disk):
    from django.contrib.auth.models import Permission

    stored = add_file(disk, "a/x.png")
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_storedfile"))
    client.force_login(viewer)
    page = client.get(LIST)
    assert page.status_code == 200
    assert "move_files" not in page.content.decode()
    response = choose(client, "move_files", [stored], apply=1, destination="b")
    assert "batch-outcomes" not in response.content.decode()
    assert ids_of(stored) == {"a/x.png"}
