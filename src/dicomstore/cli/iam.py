"""The IAM methods datasets and DICOM stores share (getIamPolicy, setIamPolicy,
testIamPermissions): their requests, as the discovery document shapes them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dicomstore.cli.api_calls import api_errors, call_method, fail, json_argument
from dicomstore.cli.options import OutputFormat, open_client
from dicomstore.cli.output import print_resource, print_rows

__all__ = [
    "PermissionsArgument",
    "PolicyArgument",
    "PolicyVersionOption",
    "UpdateMaskOption",
    "print_granted_permissions",
    "print_iam_policy",
    "replace_iam_policy",
]

PolicyVersionOption = Annotated[
    int | None,
    typer.Option(
        help="Policy version to ask for (options.requestedPolicyVersion: 0, 1 or 3).",
        show_default=False,
    ),
]
PolicyArgument = Annotated[
    str,
    typer.Argument(
        metavar="POLICY_FILE",
        help="The Policy as JSON or YAML (a file, @file or inline), as get-iam-policy prints it; "
        "a SetIamPolicyRequest with a 'policy' field is taken as is.",
    ),
]
UpdateMaskOption = Annotated[
    str | None,
    typer.Option(help="Policy fields to change (default: bindings,etag).", show_default=False),
]
PermissionsArgument = Annotated[
    list[str],
    typer.Argument(
        metavar="PERMISSION...",
        help="Permissions to test, e.g. healthcare.dicomStores.dicomWebRead.",
    ),
]


def print_iam_policy(
    method_id: str,
    values: dict[str, str],
    version: int | None,
    endpoint: str,
    token: str | None,
    fmt: OutputFormat,
) -> None:
    with api_errors(), open_client(endpoint, token) as client:
        policy = call_method(
            client, method_id, values, params={"options.requestedPolicyVersion": version}
        )
    print_resource(policy, fmt)


def replace_iam_policy(
    method_id: str,
    values: dict[str, str],
    policy_file: str,
    update_mask: str | None,
    endpoint: str,
    token: str | None,
    fmt: OutputFormat,
) -> None:
    given = json_argument(policy_file, "POLICY_FILE")
    if not isinstance(given, dict):
        raise fail("POLICY_FILE must hold a Policy object")
    request: dict[str, Any] = dict(given) if "policy" in given else {"policy": given}
    if update_mask:
        request["updateMask"] = update_mask
    with api_errors(), open_client(endpoint, token) as client:
        policy = call_method(client, method_id, values, body=request)
    print_resource(policy, fmt)


def print_granted_permissions(
    method_id: str,
    values: dict[str, str],
    permissions: list[str],
    endpoint: str,
    token: str | None,
    fmt: OutputFormat,
) -> None:
    wanted = [p for given in permissions for p in given.split(",") if p]
    with api_errors(), open_client(endpoint, token) as client:
        answer = call_method(client, method_id, values, body={"permissions": wanted})
    if fmt in (OutputFormat.JSON, OutputFormat.YAML):
        print_resource(answer, fmt)
        return
    granted = set(answer.get("permissions", []))
    rows = [{"PERMISSION": p, "GRANTED": "yes" if p in granted else "no"} for p in wanted]
    print_rows(rows, fmt, columns=["PERMISSION", "GRANTED"])
