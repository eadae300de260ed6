"""Where a OneDrive channel's identity platform and Graph live."""

from django.conf import settings

CLOUD_HOSTS = {
    "global": ("https://login.microsoftonline.com", "https://graph.microsoft.com"),
    "china": ("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
    "usgov": ("https://login.microsoftonline.us", "https://graph.microsoft.us"),
}

# msal adds openid, profile and offline_access itself (and refuses them here).
SHORT_SCOPES = ("Files.ReadWrite.All", "User.Read")

CALLBACK_PATH = "/api/oauth/onedrive/callback"


def login_url(cloud: str) -> str:
    return settings.ONEDRIVE_LOGIN_URL or CLOUD_HOSTS.get(cloud, CLOUD_HOSTS["global"])[0]


def graph_url(cloud: str) -> str:
    return settings.ONEDRIVE_GRAPH_URL or CLOUD_HOSTS.get(cloud, CLOUD_HOSTS["global"])[1]


def authority(cloud: str, tenant: str) -> str:
    return f"{login_url(cloud)}/{tenant}"


def graph_base(cloud: str) -> str:
    return f"{graph_url(cloud)}/v1.0"


def scopes(cloud: str) -> list[str]:
    # Outside the global cloud a bare scope names the global Graph, so name the
    # national Graph explicitly.
    if cloud == "global" or settings.ONEDRIVE_GRAPH_URL:
        return list(SHORT_SCOPES)
    return [f"{graph_url(cloud)}/{s}" for s in SHORT_SCOPES]


def redirect_uri() -> str:
    return settings.SITE_URL + CALLBACK_PATH
