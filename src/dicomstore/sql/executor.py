"""Running parsed statements over HTTP with a `HealthcareClient`: choose the method, send the
request, and turn the answer into rows.

- SELECT calls ``get`` when all of its parameters are given, else ``list``. A list is read to its
  end, following ``nextPageToken`` from the ``pageToken`` given if any, and unnested into one row
  per item; but when the select list names a field of the page itself (``dicomStores``,
  ``nextPageToken``) the answer is that one page, as one row, so that paging can be done by hand.
  The rest of the query then runs locally (`dicomstore.sql.local`).
- INSERT calls ``create`` once per row of values, UPDATE ``patch`` (with an ``updateMask`` made of
  the SET fields, output-only ones left out, when none is given), DELETE ``delete``. Without
  RETURNING they answer StackQL's "The operation was despatched successfully".
- ``data__name`` is sent as written, as StackQL sends it; a new resource is named by its ID
  parameter (``dicomStoreId``, ``datasetId``) and the server ignores the field.
- EXEC calls the named method; parameters that are not path parameters go in the query string
  (``@viewport``, QIDO-RS keys such as ``@PatientID`` or ``@includefield``). JSON answers become
  one row of the answer's fields, DICOM JSON one row per object (`dicomstore.sql.dicom_rows`),
  binary answers one row per part (`dicomstore.sql.bodies`). ``store_instances`` sends the
  ``data`` of its ``@@json`` HttpBody (base64) with its ``contentType`` (default
  ``application/dicom``).
- With ``/*+ AWAIT */`` a long-running operation is waited for and its final state answered.

Parameter values that are empty strings count as not given.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlglot import exp

from dicomstore.client import HealthcareClient
from dicomstore.sql.bodies import binary_rows
from dicomstore.sql.dicom_rows import dicom_rows
from dicomstore.sql.errors import SqlError, no_matching_operation
from dicomstore.sql.local import evaluate, evaluate_values
from dicomstore.sql.parser import BODY_PREFIX, parse
from dicomstore.sql.registry import PROVIDER, Resource, ResourceMethod, resources
from dicomstore.sql.schemas import (
    fields,
    is_output_only,
    list_field,
    list_item,
    request_body,
    value_for_field,
)
from dicomstore.sql.statements import (
    DeleteStatement,
    DescribeStatement,
    ExecStatement,
    InsertStatement,
    SelectStatement,
    ShowMethodsStatement,
    ShowResourcesStatement,
    Statement,
    UpdateStatement,
)

__all__ = ["DESPATCHED", "Result", "Session"]

DESPATCHED = "The operation was despatched successfully"
_JSON_TYPES = ("application/json", "application/dicom+json")
_UID_LEVELS = ("studiesId", "seriesId", "instancesId")


@dataclass
class Result:
    """The rows a statement answered, and its columns (in order, also when there are no rows);
    ``message`` is for statements that answer no rows."""

    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None


def _given(parameters: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in parameters.items() if value != ""}


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Session:
    """Statements run one after the other against one server. Binary answers are written to
    ``output_dir`` when given."""

    def __init__(
        self,
        client: HealthcareClient,
        *,
        output_dir: Path | None = None,
        wait_interval: float = 0.5,
    ) -> None:
        self.client = client
        self.output_dir = output_dir
        self.wait_interval = wait_interval

    def execute(self, text: str) -> Result:
        """Parse and run one statement; `SqlError` or `ApiError` when it fails."""
        return self.run(parse(text))

    def run(self, statement: Statement) -> Result:
        if isinstance(statement, SelectStatement):
            return self._select(statement)
        if isinstance(statement, InsertStatement):
            return self._insert(statement)
        if isinstance(statement, UpdateStatement):
            return self._update(statement)
        if isinstance(statement, DeleteStatement):
            return self._delete(statement)
        if isinstance(statement, ExecStatement):
            return self._exec(statement)
        if isinstance(statement, ShowMethodsStatement):
            return _show_methods(statement.resource)
        if isinstance(statement, DescribeStatement):
            return _describe(statement.resource)
        assert isinstance(statement, ShowResourcesStatement)
        return Result(
            ["name", "id"],
            [{"name": name, "id": f"{PROVIDER}.{name}"} for name in sorted(resources())],
        )

    # SELECT, INSERT, UPDATE, DELETE

    def _select(self, statement: SelectStatement) -> Result:
        parameters = _given(statement.parameters)
        method = statement.resource.method_for("select", parameters)
        path, query = _request(method, parameters)
        response = method.method.response
        items = list_field(response)
        if items is None:
            records = [self.client.call("GET", path, params=query)]
            columns = fields(response)
        else:
            item_columns = fields(list_item(str(response), items))
            if statement.projected & (set(fields(response)) - set(item_columns)):
                records = [self.client.call("GET", path, params=query)]
                columns = fields(response)
            else:
                records = list(self.client.pages(path, items, params=query))
                columns = item_columns
        names, rows = evaluate(statement.query, records, columns, statement.resource.full_name)
        return Result(names, rows)

    def _insert(self, statement: InsertStatement) -> Result:
        method = statement.resource.for_verb("insert")[0]
        answers = []
        for values in evaluate_values(statement.values):
            if len(values) != len(statement.columns):
                raise SqlError(
                    f"INSERT names {len(statement.columns)} columns but gives {len(values)} values"
                )
            parameters: dict[str, str] = {}
            assignments: dict[str, Any] = {}
            for column, value in zip(statement.columns, values, strict=True):
                if column.startswith(BODY_PREFIX):
                    assignments[column] = value
                elif value is not None:
                    parameters[column] = _text(value)
            parameters = _given(parameters)
            missing = method.missing(parameters)
            if missing:
                raise no_matching_operation(statement.resource.full_name, missing)
            path, query = _request(method, parameters)
            body = _body(method, assignments)
            answer = self.client.call(method.method.http_method, path, params=query, body=body)
            answers.append(self._settled(answer, method, statement.wait))
        return self._returning(statement.returning, answers, method, statement.resource)

    def _update(self, statement: UpdateStatement) -> Result:
        parameters = _given(statement.parameters)
        method = statement.resource.method_for("update", parameters)
        (values,) = evaluate_values(exp.select(*statement.assignments.values()))
        assignments = dict(zip(statement.assignments, values, strict=True))
        body = _body(method, assignments)
        if "updateMask" in method.optional and not parameters.get("updateMask"):
            body_fields = fields(method.method.request)
            names = [column[len(BODY_PREFIX) :] for column in assignments]
            mask = [name for name in names if not is_output_only(body_fields[name])]
            parameters["updateMask"] = ",".join(mask)
        path, query = _request(method, parameters)
        answer = self.client.call(method.method.http_method, path, params=query, body=body)
        answer = self._settled(answer, method, statement.wait)
        return self._returning(statement.returning, [answer], method, statement.resource)

    def _delete(self, statement: DeleteStatement) -> Result:
        parameters = _given(statement.parameters)
        method = statement.resource.method_for("delete", parameters)
        path, query = _request(method, parameters)
        answer = self.client.call(method.method.http_method, path, params=query)
        return self._record(method, self._settled(answer, method, statement.wait))

    def _returning(
        self,
        returning: exp.Select | None,
        answers: list[dict[str, Any]],
        method: ResourceMethod,
        resource: Resource,
    ) -> Result:
        if returning is None:
            return Result([], message=DESPATCHED)
        names, rows = evaluate(
            returning, answers, fields(method.method.response), resource.full_name
        )
        return Result(names, rows)

    def _settled(self, answer: Any, method: ResourceMethod, wait: bool) -> Any:
        """The answer, or with AWAIT the final state of the operation it started."""
        if (
            wait
            and method.method.response == "Operation"
            and isinstance(answer, dict)
            and answer.get("name")
            and not answer.get("done")
        ):
            return self.client.wait(answer["name"], interval=self.wait_interval)
        return answer

    # EXEC

    def _exec(self, statement: ExecStatement) -> Result:
        parameters = _given(statement.parameters)
        variant = statement.resource.exec_variant(statement.method, parameters)
        method = variant.method
        path = method.path(parameters)
        query = {
            name: value for name, value in parameters.items() if name not in method.path_parameters
        }
        request: dict[str, Any] = {"params": query}
        if method.request == "HttpBody":
            content, content_type = _http_body(statement.body, variant.name)
            # STOW-RS answers XML unless asked for JSON (PS3.18 §10.5.3).
            headers = {"Content-Type": content_type, "Accept": "application/dicom+json"}
            request.update(content=content, headers=headers)
        elif method.request:
            body = statement.body
            request["json"] = request_body(body, method.request, "@@json") if body else {}
        elif statement.body is not None:
            raise SqlError(f"{statement.resource.full_name}.{variant.name} takes no @@json body")
        response = self.client.request(method.http_method, path, **request)
        return self._answer(variant, parameters, response, statement.wait)

    def _answer(
        self,
        variant: ResourceMethod,
        parameters: dict[str, str],
        response: httpx.Response,
        wait: bool,
    ) -> Result:
        if not response.content:
            # A search that matched nothing answers no rows; a call with nothing to say, StackQL's
            # message.
            reads = variant.method.http_method == "GET"
            return Result([]) if reads else Result([], message=DESPATCHED)
        content_type = response.headers.get("content-type", "application/octet-stream")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type in _JSON_TYPES or media_type.endswith("+json"):
            answer = response.json()
            if variant.method.response == "HttpBody":
                columns, rows = dicom_rows(answer)
                return Result(columns, rows)
            return self._record(variant, self._settled(answer, variant, wait))
        stem = _file_stem(variant, parameters)
        columns, rows = binary_rows(content_type, response.content, self.output_dir, stem)
        return Result(columns, rows)

    def _record(self, method: ResourceMethod, answer: Any) -> Result:
        """One JSON answer as one row of its schema's fields (and any others it has)."""
        if not answer:
            return Result([], message=DESPATCHED)
        if not isinstance(answer, dict):
            return Result(["value"], [{"value": answer}])
        columns = list(dict.fromkeys([*fields(method.method.response), *answer]))
        return Result(columns, [answer])


def _file_stem(variant: ResourceMethod, parameters: dict[str, str]) -> str:
    """The deepest UID a binary answer was asked for, and what follows it (frame numbers, a bulk
    data path): ``<instance>-<frames>``, ``<series>``…; the method's name at store level."""
    path = variant.method.path_parameters
    levels = [path.index(name) for name in _UID_LEVELS if name in path]
    if not levels:
        return variant.name
    values = [parameters[name] for name in path[max(levels) :]]
    return re.sub(r"[^\w.-]", "_", "-".join(values))


def _request(method: ResourceMethod, parameters: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The path and the query string of a call."""
    path = method.method.path(parameters)
    query = {name: value for name, value in parameters.items() if name in method.optional}
    return path, query


def _body(method: ResourceMethod, assignments: dict[str, Any]) -> dict[str, Any]:
    """The request body that ``data__`` columns and their values make."""
    body_fields = fields(method.method.request)
    body = {}
    for column, value in assignments.items():
        name = column[len(BODY_PREFIX) :]
        converted = value_for_field(value, body_fields[name], column)
        if converted is not None:
            body[name] = converted
    return body


def _http_body(text: str | None, method: str) -> tuple[bytes, str]:
    """The bytes and content type an HttpBody ``@@json`` holds (``data`` in base64)."""
    if text is None:
        raise SqlError(
            f'{method} needs @@json=\'{{"contentType": "application/dicom", '
            '"data": "<base64 of the body>"}}\''
        )
    body = request_body(text, "HttpBody", "@@json")
    data = body.get("data")
    if not isinstance(data, str) or not data:
        raise SqlError("@@json.data must hold the request body in base64")
    data = data.strip().translate(str.maketrans("-_", "+/"))
    try:
        content = base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SqlError("@@json.data is not valid base64") from None
    return content, str(body.get("contentType") or "application/dicom")


def _show_methods(resource: Resource) -> Result:
    rows = [
        {
            "MethodName": method.name,
            "RequiredParams": ", ".join(method.required),
            "SQLVerb": method.verb.upper(),
        }
        for method in resource.methods
    ]
    return Result(["MethodName", "RequiredParams", "SQLVerb"], rows)


def _describe(resource: Resource) -> Result:
    """The columns SELECT answers (those of ``get``)."""
    get = max(resource.for_verb("select"), key=lambda method: len(method.required))
    rows = [
        {
            "name": name,
            "type": spec.get("type") or "object",
            "description": spec.get("description", ""),
        }
        for name, spec in fields(get.method.response).items()
    ]
    return Result(["name", "type", "description"], rows)
