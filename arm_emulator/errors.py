"""ARM error bodies `{"error": {"code", "message", ...}}` and the exception that carries them.

Codes the real service documents are used as-is (arm-contract §5). Where Azure documents a rule but
not its error, the factory is marked `# undocumented: chosen code` and listed in docs/emulator.md.
"""

from __future__ import annotations

from typing import Any

NOT_FOUND_HINT = "For more details please go to https://aka.ms/ARMResourceNotFoundFix"


class ArmError(Exception):
    """An ARM error response. `headers` lets 429s carry Retry-After."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        bare: bool = False,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.bare = bare  # the body without the {"error": ...} envelope
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error = self.as_operation_error()
        return error if self.bare else {"error": error}

    def as_operation_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        if self.details:
            error["details"] = self.details
        return error


# ---- generic ARM front-door errors -------------------------------------------------------------


def missing_api_version() -> ArmError:
    return ArmError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )


def invalid_api_version(version: str, supported: tuple[str, ...]) -> ArmError:
    return ArmError(
        400,
        "InvalidApiVersionParameter",
        f"The api-version '{version}' is invalid. The supported versions are "
        f"'{','.join(supported)}'.",
    )


def copy_needs_newer_api() -> ArmError:
    # Quoted in the troubleshooting doc [DOC].
    return ArmError(
        400, "BadRequest", "This request can be made with api-version '2022-03-01' or newer"
    )


def missing_auth() -> ArmError:
    return ArmError(
        401,
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is missing.",
        headers={"WWW-Authenticate": _www_authenticate("invalid_token")},
    )


def malformed_auth() -> ArmError:
    return ArmError(
        401,
        "AuthenticationFailed",
        "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        headers={"WWW-Authenticate": _www_authenticate("invalid_token")},
    )


def invalid_token() -> ArmError:
    return ArmError(
        401,
        "InvalidAuthenticationToken",
        "The access token is invalid.",
        headers={"WWW-Authenticate": _www_authenticate("invalid_token")},
    )


def _www_authenticate(error: str) -> str:
    return (
        'Bearer authorization_uri="https://login.microsoftonline.com/common", '
        f'error="{error}", error_description="The authentication failed"'
    )


def invalid_content(reason: str) -> ArmError:
    return ArmError(
        400,
        "InvalidRequestContent",
        f"The request content was invalid and could not be deserialized: '{reason}'.",
    )


def unsupported_media_type(media: str) -> ArmError:
    return ArmError(
        415,
        "UnsupportedMediaType",
        f"The content media type '{media}' is not supported. Only 'application/json' is supported.",
    )


def invalid_parameter(message: str, target: str | None = None) -> ArmError:
    return ArmError(400, "InvalidParameter", message, target=target)


def missing_parameter(path: str) -> ArmError:
    return invalid_parameter(f"Required parameter '{path}' is missing (null).", target=path)


def location_required() -> ArmError:
    return ArmError(
        400, "LocationRequired", "The location property is required for this definition."
    )


def location_not_available(location: str, resource_type: str) -> ArmError:
    return ArmError(
        400,
        "LocationNotAvailableForResourceType",
        f"The provided location '{location}' is not available for resource type '{resource_type}'.",
    )


def invalid_linked_id(value: str, path: str) -> ArmError:
    return ArmError(
        400,
        "LinkedInvalidPropertyId",
        f"Property id '{value}' at path '{path}' is invalid. Expect fully qualified resource Id "
        "that start with '/subscriptions/{subscriptionId}' or "
        "'/providers/{resourceProviderNamespace}/'.",
    )


def invalid_subscription(sub: str) -> ArmError:
    return ArmError(
        400,
        "InvalidSubscriptionId",
        f"The provided subscription identifier '{sub}' is malformed or invalid.",
    )


def subscription_not_found(sub: str) -> ArmError:
    return ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")


def resource_group_not_found(rg: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")


def resource_not_found(resource_type: str, name: str, rg: str) -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{rg}' was not found. "
        + NOT_FOUND_HINT,
    )


def parent_not_found(parent_type: str, parent_name: str) -> ArmError:
    return ArmError(
        404,
        "ParentResourceNotFound",
        f"Failed to perform 'read' on resource(s) of type '{parent_type}', because the parent "
        f"resource '{parent_name}' could not be found.",
    )


def entity_not_found() -> ArmError:
    # A missing nested entity under an existing parent is answered by Compute itself, not by
    # ARM: its generic text (as for VM extensions and run commands).
    return ArmError(404, "NotFound", "The entity was not found in this Azure location.")


def referenced_not_found(resource_id: str, path: str) -> ArmError:
    # undocumented: chosen code (a body references a resource that does not exist)
    return ArmError(
        404,
        "ResourceNotFound",
        f"The resource '{resource_id}' referenced by '{path}' was not found. " + NOT_FOUND_HINT,
        target=path,
    )


def operation_not_found(op_id: str) -> ArmError:
    # undocumented: chosen code
    return ArmError(
        404, "NotFound", f"The operation '{op_id}' was not found in this Azure location."
    )


def unknown_path(path: str) -> ArmError:
    return ArmError(404, "NotFound", f"The requested resource path '{path}' was not found.")


def invalid_namespace(namespace: str) -> ArmError:
    return ArmError(
        400, "InvalidResourceNamespace", f"The resource namespace '{namespace}' is invalid."
    )


def invalid_resource_type(resource_type: str, namespace: str, version: str | None) -> ArmError:
    return ArmError(
        400,
        "InvalidResourceType",
        f"The resource type '{resource_type}' could not be found in the namespace "
        f"'{namespace}' for api version '{version or ''}'.",
    )


def method_not_allowed(method: str) -> ArmError:
    return ArmError(
        405,
        "MethodNotAllowed",
        f"The requested resource does not support http method '{method}'.",
    )


def property_change_not_allowed(prop: str) -> ArmError:
    return ArmError(
        409,
        "PropertyChangeNotAllowed",
        f"Changing property '{prop}' is not allowed.",
        target=prop,
    )


def invalid_resource_location(name: str, existing: str, requested: str, rg: str) -> ArmError:
    return ArmError(
        409,
        "InvalidResourceLocation",
        f"The resource '{name}' already exists in location '{existing}' in resource group "
        f"'{rg}'. A resource with the same name cannot be created in location '{requested}'. "
        "Please select a new resource name.",
    )


def internal(
    message: str = "An internal execution error occurred. Please retry later.",
) -> ArmError:
    return ArmError(500, "InternalExecutionError", message)
