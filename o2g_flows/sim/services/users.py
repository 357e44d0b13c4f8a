"""User information: logins, user accounts, password, preferences and languages."""

from __future__ import annotations

from typing import Any

from ..api import ApiRequest, endpoint
from ..errors import RestError
from ..pbx.config import User

#: OXE language -> GUI language (the spec's correspondence table).
OXE_LANGUAGES = {
    "Arabic_D": "ar",
    "Arabic_FV": "ar-fv",
    "Australian": "en-au",
    "Austrian": "de-at",
    "Bahasa_Malay": "id",
    "Brazilian": "br",
    "Bulgarian": "bg",
    "Canadian_French": "fr-ca",
    "Cantonese": "ca-?",
    "Catalonian": "ca",
    "Croat": "hr",
    "Czech": "cs",
    "Danish": "da",
    "Egyptian_FV": "eg-fv",
    "Egyptian_MV": "eg-mv",
    "English_Africa": "en-af",
    "English_UK": "en-gb",
    "Estonian": "et",
    "Finnish": "fi",
    "Flemish": "nl-be",
    "French": "fr",
    "French_Swiss": "fr-ch",
    "Generic_English": "en",
    "German": "de",
    "German_Swiss": "de-ch",
    "Greek": "el",
    "Hebrew": "he",
    "Holland": "nl",
    "Hungarian": "hu",
    "Icelandic": "is",
    "Irish": "ga",
    "Italian": "it",
    "Italian_Swiss": "it-ch",
    "Japanese": "ja",
    "Korean": "ko",
    "Latvian": "lv",
    "Lithuanian": "lt",
    "Malay": "ms",
    "Mandarin_China": "zh",
    "Mandarin_Taiwan": "zh-tw",
    "Norwegian": "no",
    "Persian": "fa",
    "Polish": "pl",
    "Portuguese": "pt",
    "Rumanian": "ro",
    "Russian": "ru",
    "Slovene": "si",
    "Spanish": "es",
    "Spanish_America": "es-us",
    "Swedish": "sv",
    "Thai": "th",
    "Turkish": "tr",
    "US_English": "en-us",
    "Valenciano": "ca-es",
    "Vietnamese": "vi",
    "Yugoslav": "yu",
}
_GUI_TO_OXE = {gui: oxe for oxe, gui in OXE_LANGUAGES.items()}


@endpoint("GET /logins")
async def logins(request: ApiRequest) -> dict[str, Any]:
    """Every login (administrator, filtered by node and ACD role) or the user's own."""
    node_ids, only_acd = request.query.get("nodeIds"), request.query.get("onlyACD")
    if not request.session.admin:
        if node_ids is not None or only_acd is not None:
            raise RestError.not_allowed("nodeIds and onlyACD are for administrators")
        return {"loginNames": [request.session.login]}
    users = list(request.pbx.users.values())
    if node_ids is not None:
        nodes = _node_ids(node_ids)
        users = [user for user in users if request.pbx.config.node_id in nodes]
    if only_acd:
        users = [user for user in users if user.acd is not None]
    return {"loginNames": [user.login for user in users]}


@endpoint("GET /users")
async def user_by_phone(request: ApiRequest) -> dict[str, Any]:
    number = request.query.get("companyPhone")
    if not number:
        raise RestError.bad_parameter("the companyPhone query parameter is required")
    user = request.pbx.user_by_number(number)
    if user is None or user.number != number:
        raise RestError.not_found(f"No user with company phone {number}")
    return _user_json(request, user)


@endpoint("GET /users/{loginName}")
async def get_user(request: ApiRequest) -> dict[str, Any]:
    return _user_json(request, request.user)


@endpoint("PUT /users/{loginName}/password")
async def change_password(request: ApiRequest) -> None:
    """The new password is the one the user authenticates with from now on."""
    user = request.user
    if request.body["oldPassword"] != user.password:
        raise RestError.not_allowed("The old password is wrong")
    if not request.body["newPassword"]:
        raise RestError.bad_parameter("body.newPassword must not be empty")
    user.password = request.body["newPassword"]


@endpoint("GET /users/{loginName}/preferences")
async def get_preferences(request: ApiRequest) -> dict[str, Any]:
    return _preferences(request.user)


@endpoint("POST /users/{loginName}/preferences")
async def set_preferences(request: ApiRequest) -> None:
    """Set the GUI language (or the OXE one, which implies it); OnPreferencesChanged."""
    user, body = request.user, request.body or {}
    gui, oxe = body.get("guiLanguage"), body.get("oxeLanguage")
    if gui is not None and gui not in _GUI_TO_OXE:
        raise _wrong_language(f"{gui!r} is not a supported GUI language")
    if oxe is not None:
        if oxe not in OXE_LANGUAGES:
            raise _wrong_language(f"{oxe!r} is not an OXE language")
        if gui is not None and OXE_LANGUAGES[oxe] != gui:
            raise _wrong_language(f"guiLanguage {gui!r} does not match oxeLanguage {oxe!r}")
        gui = OXE_LANGUAGES[oxe]
    if gui is None:
        raise RestError.bad_parameter("give guiLanguage or oxeLanguage")
    if gui != user.language:
        user.language = gui
        request.pbx.emit(
            {
                "eventName": "OnPreferencesChanged",
                "loginName": user.login,
                "preferences": _preferences(user),
            }
        )


@endpoint("GET /users/{loginName}/preferences/supportedLanguages")
async def supported_languages(request: ApiRequest) -> dict[str, Any]:
    languages = sorted(_GUI_TO_OXE)
    return {"supportedLanguages": languages, "supportedGuiLanguages": languages}


def _user_json(request: ApiRequest, user: User) -> dict[str, Any]:
    """Devices only go to the user themself or to an administrator."""
    own = request.session.admin or request.session.login == user.login
    return request.pbx.user_json(user, with_devices=own)


def _preferences(user: User) -> dict[str, Any]:
    preferences = {"guiLanguage": user.language}
    if user.language in _GUI_TO_OXE:
        preferences["oxeLanguage"] = _GUI_TO_OXE[user.language]
    return preferences


def _node_ids(text: str) -> set[int]:
    """``nodeIds``: node numbers separated by commas (or semicolons, as the Node SDK sends)."""
    try:
        return {int(item) for item in text.replace(";", ",").split(",") if item.strip()}
    except ValueError:
        raise RestError.bad_parameter(f"nodeIds {text!r}: expected node numbers") from None


def _wrong_language(message: str) -> RestError:
    return RestError.bad_parameter(
        message, user_preferences={"errorType": "WRONG_VALUE", "parameter": "GUI_LANGUAGE"}
    )
