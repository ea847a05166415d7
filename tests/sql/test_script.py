"""Where statements end: ';' outside strings and comments, or ending a line comment."""

from __future__ import annotations

from dicomstore.sql import split_statements
from tests.sql import examples
from tests.sql.examples import Place


def test_semicolons_inside_strings_and_comments_do_not_end_a_statement() -> None:
    text = "SELECT 'a;b', \"c;d\", 'it''s;' /* x; y */ FROM t -- not; here\nWHERE x = 1; SELECT 2;"
    statements, rest = split_statements(text)
    assert statements == [
        "SELECT 'a;b', \"c;d\", 'it''s;' /* x; y */ FROM t -- not; here\nWHERE x = 1",
        "SELECT 2",
    ]
    assert rest == ""


def test_a_comment_ending_in_a_semicolon_ends_the_statement() -> None:
    statements, rest = split_statements("SELECT 1\nWHERE a = 'b' -- required;\nSELECT 2")
    assert statements == ["SELECT 1\nWHERE a = 'b' -- required"]
    assert rest == "SELECT 2"


def test_unfinished_input_is_left_over() -> None:
    assert split_statements("SELECT 'a;") == ([], "SELECT 'a;")
    assert split_statements("SELECT 1 /* still; open") == ([], "SELECT 1 /* still; open")
    assert split_statements("SELECT 1 -- required;") == ([], "SELECT 1 -- required;")


def test_blank_statements_are_dropped() -> None:
    assert split_statements(" ; -- only a comment;\n ;\n") == ([], "\n")


def test_a_script_of_the_page_examples_splits_into_each_of_them() -> None:
    place = Place()
    parts = [
        examples.get_store(place),
        examples.list_stores_page(place, 1, "", ""),
        examples.delete_store(place),
        examples.exec_statement("import", place, body={"gcsSource": '{"uri": "gs://b/*;x"}'}),
        examples.exec_statement("retrieve_frames", place, {"studiesId": "1", "seriesId": "2",
                                                            "instancesId": "3", "framesId": "1"}),
    ]  # fmt: skip
    statements, rest = split_statements("\n".join(parts) + "\n")
    assert len(statements) == len(parts)
    assert rest.strip() == ""
    assert statements[3].endswith("}'")
