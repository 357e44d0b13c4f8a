"""Call-centre agents and supervisors: logon, processing groups, states, help and intrusion.

Every user of the PBX file with an ``acd:`` section is an ``Agent`` here (type AGENT or
SUPERVISOR). Every change of an agent's state emits ``OnAgentStateChanged``. The call model
hands distributed calls to agents through ``pick_agent`` / ``agent_call_started`` /
``agent_call_ended``; this module asks it to serve its pilot queues whenever an agent becomes
available. The state machine is described in ``docs/sim-acd.md``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import RestError
from .config import ProcessingGroup, User

if TYPE_CHECKING:
    import asyncio

    from .core import Pbx

__all__ = ["Acd", "Agent", "Supervision"]

LOG_ON, LOG_OFF = "LOG_ON", "LOG_OFF"
READY, OUT_OF_PG, BUSY, WRAPUP, PAUSE, WITHDRAW = (
    "READY",
    "OUT_OF_PG",
    "BUSY",
    "WRAPUP",
    "PAUSE",
    "WITHDRAW",
)
#: Sub-states from which the agent may be put in each target sub-state by request.
_ALLOWED_FROM = {
    READY: {PAUSE, WRAPUP, WITHDRAW},
    PAUSE: {READY, WRAPUP, WITHDRAW},
    WRAPUP: {READY, PAUSE, WITHDRAW},
    WITHDRAW: {READY, PAUSE, WRAPUP},
}


@dataclass(eq=False)
class Supervision:
    """A supervisor's intrusion on an agent's call, or permanent listening of an agent."""

    agent: str  # the supervised agent's login
    mode: str  # IntrusionMode; permanent listening is DISCRETE
    permanent: bool = False  # permanent listening (kept across the agent's calls)
    call_ref: str | None = None  # the intruded call

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"agent": self.agent, "mode": self.mode}
        if self.permanent:
            body["permanentListening"] = True
        if self.call_ref:
            body["callRef"] = self.call_ref
        return body


@dataclass(eq=False)
class Agent:
    """One ACD operator's live state."""

    user: User
    main: str = LOG_OFF
    sub: str | None = None
    device: str | None = None  # the device logged on
    pg: str | None = None  # the processing group the agent is in
    withdraw_reason: int | None = None
    headset: bool | None = None  # chosen at logon
    reserved: bool = False  # picked for a distributed call that is ringing
    call_ref: str | None = None  # the distributed call in progress (BUSY)
    idle_since: int = 0  # order of becoming available: the smallest waited longest
    wrapup_timer: asyncio.TimerHandle | None = None
    help_from: str | None = None  # login of the supervisor whose help is requested
    supervision: Supervision | None = None  # a supervisor's intrusion or listening

    @property
    def login(self) -> str:
        return self.user.login

    @property
    def is_supervisor(self) -> bool:
        return self.user.acd is not None and self.user.acd.type == "SUPERVISOR"

    @property
    def logged_on(self) -> bool:
        return self.main == LOG_ON

    @property
    def has_distributed_call(self) -> bool:
        return self.reserved or self.call_ref is not None

    def numbers(self) -> set[str]:
        """The numbers that designate this agent: its device, its pro-ACD set, its phone."""
        numbers = {self.user.number}
        if self.device:
            numbers.add(self.device)
        if self.user.acd and self.user.acd.proacd:
            numbers.add(self.user.acd.proacd)
        return numbers

    @property
    def number(self) -> str:
        """The number other parties see: the device logged on, else the company phone."""
        return self.device or self.user.number

    def state_json(self) -> dict[str, Any]:
        """The AgentState representation."""
        if self.main == LOG_OFF:
            return {"mainState": LOG_OFF}
        state: dict[str, Any] = {
            "mainState": self.main,
            "subState": self.sub,
            "proAcdDeviceNumber": self.device,
        }
        if self.pg:
            state["pgNumber"] = self.pg
        if self.sub == WITHDRAW:
            if self.withdraw_reason is not None:
                state["withdrawReason"] = self.withdraw_reason
            state["withdrawn"] = True
        return state


class Acd:
    """Every agent and supervisor of the PBX, and the distribution contract with the calls."""

    def __init__(self, pbx: Pbx) -> None:
        self._pbx = pbx
        self._agents = {
            login: Agent(user) for login, user in pbx.users.items() if user.acd is not None
        }
        self._groups = {group.number: group for group in pbx.config.processing_groups}
        self._pilots = {pilot.number: pilot for pilot in pbx.config.pilots}
        self._clock = itertools.count(1)

    # -- lookups --------------------------------------------------------------------------------

    def agent(self, login: str) -> Agent:
        """The agent ``login``; NOT_ALLOWED for a user without ACD configuration."""
        agent = self._agents.get(login)
        if agent is None:
            raise RestError.not_allowed(f"{login} is not an ACD agent or supervisor")
        return agent

    def agents(self) -> list[Agent]:
        """Every agent and supervisor, in the PBX file's order."""
        return list(self._agents.values())

    def by_number(self, number: str) -> Agent | None:
        """The agent designated by ``number`` (its device, pro-ACD set or company phone)."""
        return next((a for a in self._agents.values() if number in a.numbers()), None)

    def group(self, number: str) -> ProcessingGroup:
        """The processing group ``number``; BAD_PARAMETER if there is none."""
        try:
            return self._groups[number]
        except KeyError:
            raise RestError.bad_parameter(f"Unknown processing group {number}") from None

    # -- logon, logoff, processing groups -------------------------------------------------------

    def logon(
        self, login: str, device: str, pg: str | None = None, headset: bool | None = None
    ) -> None:
        """LoggOnAgentRequest: log on ``device``, in ``pg`` or the configured group."""
        agent = self.agent(login)
        config = agent.user.acd
        if agent.logged_on:
            if agent.is_supervisor and agent.sub == OUT_OF_PG and device in agent.numbers() and pg:
                self.enter_pg(login, pg)  # a supervisor's second logon step
                return
            raise RestError.not_expected(f"{login} is already logged on {agent.device}")
        expected = config.proacd or agent.user.number
        if device != expected:
            raise RestError.bad_parameter(
                f"proAcdDeviceNumber {device} is not the pro-ACD device of {login} ({expected})"
            )
        if pg is not None:
            self._check_member(agent, pg)
            if not agent.is_supervisor and not config.self_assign and pg != _home_group(agent):
                raise RestError.not_allowed(
                    f"{login} may not choose its processing group (selfAssign is false)"
                )
        elif not agent.is_supervisor:
            pg = _home_group(agent)
            if pg is None:
                raise RestError.bad_parameter(f"{login} belongs to no processing group")
        agent.main, agent.device, agent.headset = LOG_ON, device, headset
        if pg is None:
            agent.sub, agent.pg = OUT_OF_PG, None
            self.publish(agent)
            return
        agent.pg = pg
        self._become_ready(agent)

    def logoff(self, login: str) -> None:
        """One-step logoff; refused while the agent holds a distributed call."""
        agent = self._logged_on(login)
        self._refuse_during_call(agent)
        for other in self._agents.values():
            if other.help_from and (other is agent or other.help_from == login):
                self._end_help(other)
            if other.supervision and (other is agent or other.supervision.agent == login):
                self._end_supervision(other)
        agent.main, agent.device, agent.pg, agent.headset = LOG_OFF, None, None, None
        self._set(agent, None)

    def enter_pg(self, login: str, pg: str) -> None:
        """A logged-on supervisor out of group enters ``pg`` (second logon step)."""
        agent = self._supervisor(login)
        self._require_logged_on(agent)
        if agent.sub != OUT_OF_PG:
            raise RestError.not_expected(f"{login} is already in processing group {agent.pg}")
        self._check_member(agent, pg)
        agent.pg = pg
        self._become_ready(agent)

    def exit_pg(self, login: str, pg: str) -> None:
        """A supervisor leaves ``pg`` (out of group); an empty ``pg`` logs it off."""
        agent = self._supervisor(login)
        self._require_logged_on(agent)
        if not pg:
            self.logoff(login)
            return
        if agent.pg != pg:
            raise RestError.bad_parameter(f"{login} is not in processing group {pg}")
        self._refuse_during_call(agent)
        agent.pg = None
        self._set(agent, OUT_OF_PG)

    # -- sub-states on request ------------------------------------------------------------------

    def ready(self, login: str) -> None:
        """The agent asks to be READY (the queues of its group are served at once)."""
        agent = self._in_group(login)
        if agent.sub != READY:
            self._check_move(agent, READY)
            self._become_ready(agent)

    def pause(self, login: str) -> None:
        """The agent takes a pause."""
        agent = self._in_group(login)
        if agent.sub != PAUSE:
            self._check_move(agent, PAUSE)
            self._set(agent, PAUSE)

    def wrapup(self, login: str) -> None:
        """A manual wrap-up: it lasts ``timing.wrapup`` seconds, then the agent is READY."""
        agent = self._in_group(login)
        if agent.sub != WRAPUP:
            self._check_move(agent, WRAPUP)
            self._start_wrapup(agent)

    def withdraw(self, login: str, reason: int | None) -> None:
        """Withdraw with ``reason``, an index into the group's withdraw reasons (1..N)."""
        agent = self._in_group(login)
        reasons = self.group(agent.pg).withdraw_reasons
        if reason is not None and not 1 <= reason <= len(reasons):
            raise RestError.bad_parameter(
                f"reasonIndex {reason} is not a withdraw reason of processing group {agent.pg} "
                f"(1..{len(reasons)})"
            )
        if agent.sub == WITHDRAW and agent.withdraw_reason == reason:
            return
        if agent.sub != WITHDRAW:
            self._check_move(agent, WITHDRAW)
        self._set(agent, WITHDRAW, reason)

    def withdraw_reasons(self, login: str, pg: str | None) -> dict[str, Any]:
        """WithdrawReasons of ``pg`` (default: the group the agent is in)."""
        agent = self.agent(login)
        if pg is None:
            pg = agent.pg
            if pg is None:
                raise RestError.bad_parameter(
                    f"pgNumber is needed: {login} is in no processing group"
                )
        self._check_member(agent, pg)
        reasons = self.group(pg).withdraw_reasons
        return {
            "number": len(reasons),
            "reasons": [{"index": i, "label": label} for i, label in enumerate(reasons, 1)],
        }

    def config_json(self, login: str) -> dict[str, Any]:
        """The AgentConfig representation."""
        agent = self.agent(login)
        config = agent.user.acd
        body: dict[str, Any] = {"type": config.type}
        if config.proacd:
            body["proacd"] = config.proacd
        groups: dict[str, Any] = {"groups": list(config.groups)}
        if config.preferred:
            groups["preferred"] = config.preferred
        body["processingGroups"] = groups
        body["skills"] = {"skills": [dict(skill) for skill in config.skills]}
        body["selfAssign"] = config.self_assign
        body["headset"] = config.headset if agent.headset is None else agent.headset
        body["help"] = config.help
        body["multiline"] = False  # the simulated sets declare no multiline key
        return body

    # -- supervisor help ------------------------------------------------------------------------

    def request_help(self, login: str) -> None:
        """An agent asks a logged-on supervisor of its group for help."""
        agent = self._in_group(login)
        if agent.is_supervisor:
            raise RestError.not_allowed(f"{login} is a supervisor: only agents ask for help")
        if agent.help_from:
            raise RestError.not_expected(f"{login} already asked {agent.help_from} for help")
        supervisor = next(
            (
                s
                for s in self._agents.values()
                if s.is_supervisor
                and s.logged_on
                and s.user.acd.help
                and agent.pg in s.user.acd.groups
            ),
            None,
        )
        if supervisor is None:
            raise RestError.not_expected(
                f"No supervisor of processing group {agent.pg} is logged on"
            )
        agent.help_from = supervisor.login
        self._emit_help("OnSupervisorHelpRequested", agent, supervisor)

    def cancel_help(self, login: str, other: str | None) -> None:
        """The agent cancels its request, or the supervisor rejects one (``other``: the peer)."""
        caller = self._logged_on(login)
        if not caller.is_supervisor:
            if caller.help_from is None:
                raise RestError.not_expected(f"{login} has no pending help request")
            supervisor = self._agents[caller.help_from]
            if other and other not in supervisor.numbers():
                raise RestError.bad_parameter(
                    f"{login} asked {supervisor.number} for help, not {other}"
                )
            self._end_help(caller)
            return
        pending = [a for a in self._agents.values() if a.help_from == login]
        if other:
            pending = [a for a in pending if other in a.numbers()]
        if not pending:
            raise RestError.not_expected(
                f"No pending help request to {login}" + (f" from {other}" if other else "")
            )
        if len(pending) > 1:
            raise RestError.bad_parameter(
                f"Several agents asked {login} for help: name one with 'other'"
            )
        self._end_help(pending[0])

    # -- intrusion and listening ----------------------------------------------------------------

    def intrude(self, login: str, agent_number: str, mode: str) -> None:
        """The supervisor joins the current distributed call of the agent in ``mode``."""
        supervisor, agent = self._supervision_parties(login, agent_number)
        if agent.call_ref is None:
            raise RestError.not_expected(f"Agent {agent_number} has no call in progress")
        self._pbx.calls.supervision.join(
            supervisor.user, supervisor.number, agent.login, agent.call_ref, mode
        )
        supervisor.supervision = Supervision(agent.login, mode, call_ref=agent.call_ref)

    def change_intrusion(self, login: str, mode: str) -> None:
        """Change the intrusion mode; asking for the current mode ends the intrusion."""
        supervisor = self._supervisor(login)
        supervision = supervisor.supervision
        if supervision is None or supervision.permanent:
            raise RestError.not_expected(f"{login} is not in intrusion on an agent call")
        if supervision.mode == mode:
            self._end_supervision(supervisor)
        else:
            self._pbx.calls.supervision.change(login, mode)
            supervision.mode = mode

    def listen(self, login: str, agent_number: str) -> None:
        """Permanent (discrete) listening of every call of the agent, the current one
        included, until either logs off or the supervisor hangs up."""
        supervisor, agent = self._supervision_parties(login, agent_number)
        supervisor.supervision = Supervision(agent.login, "DISCRETE", permanent=True)
        if agent.call_ref is not None:
            self._listen_in(supervisor, agent)

    def supervisor_left(self, login: str) -> None:
        """The call model: the supervisor hung up on the call it supervised, which ends its
        intrusion or permanent listening."""
        supervisor = self._agents.get(login)
        if supervisor is not None:
            supervisor.supervision = None

    # -- the distribution contract with the call model ------------------------------------------

    def pick_agent(self, pilot_number: str) -> tuple[str, str] | None:
        """Reserve the READY agent of the pilot's groups idle the longest: (login, device)."""
        pilot = self._pilots.get(pilot_number)
        if pilot is None:
            return None
        candidates = [
            a
            for a in self._agents.values()
            if a.logged_on
            and a.sub == READY
            and a.pg in pilot.groups
            and not a.has_distributed_call
        ]
        if not candidates:
            return None
        agent = min(candidates, key=lambda a: a.idle_since)
        agent.reserved = True
        return agent.login, agent.device

    def agent_call_started(self, login: str, call_ref: str) -> None:
        """The agent answered the distributed call ``call_ref``: BUSY."""
        agent = self._agents.get(login)
        if agent is None or not agent.logged_on:
            return
        agent.reserved, agent.call_ref = False, call_ref
        self._set(agent, BUSY)
        for supervisor in self._agents.values():
            supervision = supervisor.supervision
            if supervision and supervision.permanent and supervision.agent == login:
                self._listen_in(supervisor, agent)

    def agent_call_ended(self, login: str, call_ref: str) -> None:
        """The distributed call ended (WRAPUP), or was never answered (available again)."""
        agent = self._agents.get(login)
        if agent is None or not agent.logged_on:
            return
        if agent.call_ref == call_ref:
            agent.call_ref = None
            for supervisor in self._agents.values():
                supervision = supervisor.supervision
                if supervision and supervision.agent == login:
                    if supervision.permanent:
                        supervision.call_ref = None
                        self._pbx.calls.supervision.remove(supervisor.login)
                    else:
                        self._end_supervision(supervisor)
            self._start_wrapup(agent)
        elif agent.reserved:
            agent.reserved = False
            agent.idle_since = next(self._clock)  # others get the next offer first
            self._pbx.later(0, self._serve_queues, agent)

    # -- events and snapshots -------------------------------------------------------------------

    def publish(self, agent: Agent) -> None:
        """Emit OnAgentStateChanged with the agent's whole state."""
        self._pbx.emit(
            {
                "eventName": "OnAgentStateChanged",
                "loginName": agent.login,
                "state": agent.state_json(),
            }
        )

    def snapshot(self) -> dict[str, Any]:
        """Every agent's state and distribution details, for ``GET /sim/state``."""
        dump: dict[str, Any] = {}
        for agent in self._agents.values():
            entry: dict[str, Any] = {"type": agent.user.acd.type, "state": agent.state_json()}
            if agent.logged_on:
                entry["idleOrder"] = agent.idle_since
                entry["reserved"] = agent.reserved
            if agent.call_ref:
                entry["callRef"] = agent.call_ref
            if agent.help_from:
                entry["helpRequestedFrom"] = agent.help_from
            if agent.supervision:
                entry["supervision"] = agent.supervision.as_json()
            dump[agent.login] = entry
        return dump

    # -- internals ------------------------------------------------------------------------------

    def _logged_on(self, login: str) -> Agent:
        agent = self.agent(login)
        self._require_logged_on(agent)
        return agent

    def _in_group(self, login: str) -> Agent:
        agent = self._logged_on(login)
        if agent.pg is None:
            raise RestError.not_expected(f"{login} is logged on out of any processing group")
        return agent

    def _supervisor(self, login: str) -> Agent:
        agent = self.agent(login)
        if not agent.is_supervisor:
            raise RestError.not_allowed(f"{login} is not an ACD supervisor")
        return agent

    def _supervision_parties(self, login: str, agent_number: str) -> tuple[Agent, Agent]:
        supervisor = self._supervisor(login)
        self._require_logged_on(supervisor)
        agent = self.by_number(agent_number)
        if agent is None or agent is supervisor:
            raise RestError.bad_parameter(f"{agent_number} is not the number of an ACD agent")
        if not agent.logged_on:
            raise RestError.not_expected(f"Agent {agent_number} is not logged on")
        if agent.pg not in supervisor.user.acd.groups:
            raise RestError.not_allowed(
                f"{login} does not supervise processing group {agent.pg} of agent {agent_number}"
            )
        if supervisor.supervision is not None:
            raise RestError.not_expected(
                f"{login} already supervises {supervisor.supervision.agent}"
            )
        return supervisor, agent

    @staticmethod
    def _require_logged_on(agent: Agent) -> None:
        if not agent.logged_on:
            raise RestError.not_expected(f"{agent.login} is not logged on")

    @staticmethod
    def _refuse_during_call(agent: Agent) -> None:
        if agent.has_distributed_call:
            raise RestError.not_expected(f"{agent.login} has a distributed call in progress")

    def _check_move(self, agent: Agent, target: str) -> None:
        self._refuse_during_call(agent)
        if agent.sub not in _ALLOWED_FROM[target]:
            raise RestError.not_expected(f"{agent.login} cannot go from {agent.sub} to {target}")

    @staticmethod
    def _check_member(agent: Agent, pg: str) -> None:
        if pg not in agent.user.acd.groups:
            raise RestError.bad_parameter(
                f"{agent.login} is not a member of processing group {pg} "
                f"(groups: {', '.join(agent.user.acd.groups) or 'none'})"
            )

    def _set(self, agent: Agent, sub: str | None, reason: int | None = None) -> None:
        """Put the agent in sub-state ``sub`` (its wrap-up timer stops) and publish it."""
        self._pbx.cancel(agent.wrapup_timer)
        agent.wrapup_timer = None
        agent.sub, agent.withdraw_reason = sub, reason
        self.publish(agent)

    def _start_wrapup(self, agent: Agent) -> None:
        self._set(agent, WRAPUP)
        agent.wrapup_timer = self._pbx.later(self._pbx.timing.wrapup, self._wrapup_over, agent)

    def _wrapup_over(self, agent: Agent) -> None:
        agent.wrapup_timer = None
        if agent.logged_on and agent.sub == WRAPUP:
            self._become_ready(agent)

    def _become_ready(self, agent: Agent) -> None:
        agent.idle_since = next(self._clock)
        self._set(agent, READY)
        self._serve_queues(agent)

    def _serve_queues(self, agent: Agent) -> None:
        """Ask the call model to offer waiting calls of every pilot serving the agent's group."""
        if not agent.logged_on or agent.sub != READY:
            return
        for pilot in self._pilots.values():
            if agent.pg in pilot.groups:
                self._pbx.calls.distribution.serve(pilot.number)

    def _emit_help(self, name: str, agent: Agent, supervisor: Agent) -> None:
        self._pbx.emit(
            {"eventName": name, "loginName": agent.login, "agentNumber": supervisor.number}
        )
        self._pbx.emit(
            {"eventName": name, "loginName": supervisor.login, "agentNumber": agent.number}
        )

    def _end_help(self, agent: Agent) -> None:
        supervisor = self._agents[agent.help_from]
        agent.help_from = None
        self._emit_help("OnSupervisorHelpCancelled", agent, supervisor)

    def _end_supervision(self, supervisor: Agent) -> None:
        """The intrusion or listening ends: the supervisor leaves the call it is in."""
        supervisor.supervision = None
        self._pbx.calls.supervision.remove(supervisor.login)

    def _listen_in(self, supervisor: Agent, agent: Agent) -> None:
        """Permanent listening: the supervisor joins the agent's call, unless it cannot now
        (busy on a call of its own): it then misses this one and listens to the next."""
        supervision = supervisor.supervision
        assert supervision is not None and agent.call_ref is not None
        try:
            self._pbx.calls.supervision.join(
                supervisor.user, supervisor.number, agent.login, agent.call_ref, "DISCRETE"
            )
        except RestError:
            supervision.call_ref = None
        else:
            supervision.call_ref = agent.call_ref


def _home_group(agent: Agent) -> str | None:
    """The group an agent enters when it names none: its preferred, else its first group."""
    config = agent.user.acd
    return config.preferred or (config.groups[0] if config.groups else None)
