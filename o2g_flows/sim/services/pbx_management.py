"""PBX management (administrators): the node, its object instances and object model."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..api import ApiRequest, endpoint
from ..errors import RestError
from ..pbx.objects import PbxObjects


def _objects(request: ApiRequest) -> PbxObjects:
    """The object store of the node named in the path (administrators only)."""
    request.require_admin()
    node = request.path.get("nodeId")
    if node is not None and node != str(request.pbx.config.node_id):
        raise RestError.not_found(f"No PBX node {node}")
    return request.pbx.objects


@endpoint("GET /pbxs")
async def pbxs(request: ApiRequest) -> dict[str, Any]:
    _objects(request)
    return {"nodeIds": [str(request.pbx.config.node_id)]}


@endpoint("GET /pbxs/{nodeId}")
async def pbx(request: ApiRequest) -> dict[str, Any]:
    _objects(request)
    config = request.pbx.config
    return {"nodeId": config.node_id, "fqdn": config.name}


@endpoint("GET /pbxs/{nodeId}/instances")
async def node_object(request: ApiRequest) -> dict[str, Any]:
    return _objects(request).root()


@endpoint("GET /pbxs/{nodeId}/instances/{objectName}")
async def instances(request: ApiRequest) -> dict[str, Any]:
    """Instance ids, filtered (``filter``), with chosen attribute values (``attributes``)."""
    query = request.query
    return _objects(request).find(
        request.path["objectName"], query.get("filter"), query.get("attributes")
    )


@endpoint("POST /pbxs/{nodeId}/instances/{objectName}")
async def create(request: ApiRequest) -> web.Response:
    objects = _objects(request)
    if request.query.get("action"):
        raise RestError.bad_parameter("no action can be run while creating an object")
    objects.create(request.path["objectName"], (request.body or {}).get("attributes") or [])
    return web.Response(status=201)


@endpoint("GET /pbxs/{nodeId}/instances/{objectName}/{objectId}")
async def get_instance(request: ApiRequest) -> dict[str, Any]:
    path = request.path
    return _objects(request).get(
        request.session, path["objectName"], path["objectId"], request.query.get("attributes")
    )


@endpoint("PUT /pbxs/{nodeId}/instances/{objectName}/{objectId}")
async def modify(request: ApiRequest) -> None:
    """Set attribute values, add/remove list items (``action=add|remove``) or run an action."""
    path = request.path
    _objects(request).modify(
        request.session,
        path["objectName"],
        path["objectId"],
        (request.body or {}).get("attributes") or [],
        request.query.get("action"),
    )


@endpoint("DELETE /pbxs/{nodeId}/instances/{objectName}/{objectId}")
async def delete(request: ApiRequest) -> None:
    """Delete an instance; ``force`` (with or without a value) runs FORCED_DELETE."""
    path = request.path
    _objects(request).delete(path["objectName"], path["objectId"], "force" in request.query)


@endpoint("GET /pbxs/{nodeId}/model")
async def model(request: ApiRequest) -> dict[str, Any]:
    return _objects(request).model()


@endpoint("GET /pbxs/{nodeId}/model/{objectName}")
async def object_model(request: ApiRequest) -> dict[str, Any]:
    return _objects(request).model(request.path["objectName"])
