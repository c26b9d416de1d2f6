"""How the OpenAPI document describes the API key (drf-spectacular finds it once this module is imported)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from integrations.authentication import ApiKeyAuthentication


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "kam_<prefix>_<secret>",
            "description": "An API key made by a manager under Settings → Integrations. It acts as the user "
            "it was made for and sees what they see; its scopes limit what it may do.",
        }
