//! The OpenAPI 3.1 document of `/api/v1`, assembled from the handlers' own annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "REST API of Switchboard, the self-hostable omnichannel messaging CRM. \
                       Authenticate with `Authorization: Bearer <API token>` (a token is scoped to one \
                       workspace and a role) or a browser session. Errors are \
                       `{\"error\": {\"code\", \"message\"}}` with a 4xx status. Lists carry their items \
                       in a `data` array.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}
