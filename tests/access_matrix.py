"""Who may call what: every endpoint of every service x every role, in one table.

Read a row as "this call, made by the sample person of each role in deploy/org.yaml, is
allowed (+) or refused with 403 (-)"; the last column is what a caller without a valid
token gets (no token, an expired one, one signed with another key, one from another OIDC
issuer): 401, or + for the public operations endpoints. The rows under ``[*]`` are on
every service (the chassis). ``tests/test_access_matrix.py`` runs each row for each caller
against the real services and fails on any difference, and on any endpoint without a row.

The records the calls are about: customer C of rep-zhang-wei (group-east-1: gl-li-na,
sm-qian-wenbo, sd-zhao-guoqiang above him), his tasks and his sample-request ticket for C
(CE report: the tech-electrical group, te-luo-bin -> tl-gao-jianjun -> td-zheng-lixin),
a notification delivered to sm-qian-wenbo, the figures of rep-zhang-wei.

Where the spec (PRODUCT.md, and the README's "who" columns restating it) is silent, the
rule is the services' own; the exceptions are noted under the table.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The sample person of each role column (deploy/org.yaml).
PEOPLE = {
    "rep": "rep-zhang-wei",  # sales rep, owner of the records
    "gl": "gl-li-na",  # his group lead
    "sm": "sm-qian-wenbo",  # his sales manager
    "sd": "sd-zhao-guoqiang",  # sales director (and department head)
    "te": "te-luo-bin",  # tech engineer of tech-electrical
    "tl": "tl-gao-jianjun",  # tech lead of tech-electrical
    "td": "td-zheng-lixin",  # tech director (and department head)
    "lg": "lg-cao-yang",  # logistics
    "fr": "fr-sun-li",  # finance/risk (and department head)
    "it": "it-fang-min",  # admin
}
#: Callers without a valid token; each must get 401 wherever a token is required.
UNAUTHENTICATED = (
    "no token",
    "expired token",
    "token signed with another key",
    "OIDC token from another issuer",
)

MATRIX = """
call                                                    rep gl sm sd te tl td lg fr it anon

[*]
GET  /healthz                                            +  +  +  +  +  +  +  +  +  +  +
GET  /readyz                                             +  +  +  +  +  +  +  +  +  +  +
GET  /metrics                                            +  +  +  +  +  +  +  +  +  +  +
GET  /openapi.json                                       +  +  +  +  +  +  +  +  +  +  +
GET  /docs                                               +  +  +  +  +  +  +  +  +  +  +
GET  /docs/oauth2-redirect                               +  +  +  +  +  +  +  +  +  +  +
GET  /redoc                                              +  +  +  +  +  +  +  +  +  +  +
GET  /audit/records/{record_id}                          -  -  -  +  -  -  +  -  +  +  401

[customers]
POST /customers                                          +  +  +  +  -  -  -  -  -  +  401
POST /customers/import                                   +  +  +  +  -  -  -  -  -  +  401
GET  /customers                                          +  +  +  +  +  +  +  +  +  +  401
GET  /customers/negotiation-joins                        +  +  +  +  +  +  +  +  +  +  401
GET  /customers/{customer_id}                            +  +  +  +  -  -  -  -  -  +  401
PUT  /customers/{customer_id}/decision-state             +  +  +  +  -  -  -  -  -  +  401
PUT  /customers/{customer_id}/tier                       +  +  +  +  -  -  -  -  -  +  401
PUT  /customers/{customer_id}/owner                      -  +  +  +  -  -  -  -  -  +  401
POST /customers/{customer_id}/follow-ups                 +  +  +  +  -  -  -  -  -  +  401
GET  /customers/{customer_id}/follow-ups                 +  +  +  +  -  -  -  -  -  +  401
PUT  /customers/{customer_id}/next-action                +  -  -  -  -  -  -  -  -  -  401
POST /customers/{customer_id}/next-action/complete       +  -  -  -  -  -  -  -  -  -  401
POST /customers/{customer_id}/negotiation-join/confirm   -  -  +  -  -  -  -  -  -  -  401
GET  /customers/{customer_id}/progress-reports           +  +  +  +  -  -  -  -  -  +  401
POST /customers/{customer_id}/progress-reports           +  -  -  -  -  -  -  -  -  -  401
GET  /progress-reports/todo                              +  +  +  +  +  +  +  +  +  +  401
POST /progress-reports/{report_id}/answer                -  +  -  -  -  -  -  -  -  -  401
POST /targets/{period}/allocations                       -  +  +  +  -  -  -  -  -  +  401
GET  /targets/{period}                                   +  +  +  +  +  +  +  +  +  +  401

[tasks]
POST /tasks                                              +  -  -  -  -  -  -  -  -  -  401
GET  /tasks                                              +  +  +  +  -  -  -  -  +  +  401
GET  /tasks/awaiting-decision                            -  -  -  +  -  -  -  -  +  -  401
GET  /tasks/{task_id}                                    +  +  +  +  -  -  -  -  +  +  401
POST /tasks/{task_id}/submission                         +  -  -  -  -  -  -  -  -  -  401
POST /tasks/{task_id}/concession-decision                -  -  -  +  -  -  -  -  -  -  401
GET  /tasks/{task_id}/evidence                           +  +  +  +  -  -  -  -  +  +  401
GET  /tasks/{task_id}/evidence/{sha256}                  +  +  +  +  -  -  -  -  +  +  401

[collaboration]
POST /tickets                                            +  +  +  +  -  -  -  -  -  +  401
GET  /tickets                                            +  +  +  +  +  +  +  +  +  +  401
GET  /tickets/{ticket_id}                                +  +  +  +  +  +  +  +  +  +  401
GET  /document-types                                     +  +  +  +  +  +  +  +  +  +  401
POST /tickets/{ticket_id}/tech/{team_id}/answer          -  -  -  -  +  +  -  -  -  -  401
POST /tickets/{ticket_id}/tech/{team_id}/info            +  -  -  -  -  -  -  -  -  -  401
POST /tickets/{ticket_id}/stocking                       -  -  -  -  -  -  -  +  -  -  401
POST /tickets/{ticket_id}/shipment                       -  -  -  -  -  -  -  +  -  -  401
POST /tickets/{ticket_id}/receipt                        +  -  -  -  -  -  -  -  -  -  401
POST /tickets/{ticket_id}/rating                         +  -  -  -  -  -  -  -  -  -  401
GET  /sla-board                                          +  +  +  +  +  +  +  +  +  +  401
GET  /reports/repeated-documents                         +  +  +  +  +  +  +  +  +  +  401

[notifier]
GET  /deliveries                                         +  +  +  +  +  +  +  +  +  +  401
GET  /deliveries/{delivery_id}/attempts                  -  -  +  +  -  -  -  -  -  +  401
GET  /dead-letters                                       -  -  -  +  -  -  -  -  -  +  401
POST /dead-letters/{delivery_id}/replay                  -  -  -  +  -  -  -  -  -  +  401

[metrics]
GET  /indicators                                         +  +  +  +  -  +  +  -  +  +  401
GET  /figures/{measure}                                  +  +  +  +  -  +  +  -  +  +  401
GET  /figures/{measure}/drill-down                       +  +  +  +  -  +  +  -  +  +  401
GET  /figures/{measure}/trend                            +  +  +  +  -  +  +  -  +  +  401
GET  /activity                                           +  +  +  +  -  +  +  -  +  +  401
GET  /health-dashboard                                   +  +  +  +  -  +  +  -  +  +  401
GET  /causes                                             +  +  +  +  -  +  +  -  +  +  401
GET  /records                                            +  +  +  +  -  +  +  -  +  +  401
GET  /attention                                          +  +  +  +  -  +  +  -  +  +  401
GET  /sla-board                                          +  +  +  +  +  +  +  +  +  +  401
GET  /units                                              +  +  +  +  +  +  +  +  +  +  401
GET  /measures                                           +  +  +  +  +  +  +  +  +  +  401
GET  /names                                              +  +  +  +  +  +  +  +  +  +  401
GET  /changes                                            +  +  +  +  +  +  +  +  +  +  401
GET  /                                                   +  +  +  +  +  +  +  +  +  +  +
GET  /dashboard                                          +  +  +  +  +  +  +  +  +  +  +
GET  /dashboard/                                         +  +  +  +  +  +  +  +  +  +  +
GET  /dashboard/assets/{name}                            +  +  +  +  +  +  +  +  +  +  +
"""

# Notes on the rules (why a row reads as it does):
#
# - Reading a customer, its follow-ups and acting on it follows the reporting line
#   (salesops.access.oversees): the owner, everyone above them, the sales director and
#   admins. Tech, logistics and finance do not read customer records.
# - The next action and the progress report are the owner's own (PRODUCT.md: "every rep
#   updates the next required action of each of their customers"); the report is answered
#   by the supervisor it went to, the negotiation join confirmed by the manager named on it.
# - Target coverage (GET /targets/{period}) answers 200 for everyone but lists only the
#   units and reps the caller may see, by the same rule as the metrics figures: a rep sees
#   their own line, never a colleague's. (Before, every line went to every caller.)
# - Tasks: a rep plans and submits only their own; their supervisors, the sales director,
#   finance/risk (told about concessions) and admins read them; only a sales director
#   decides a concession, never on their own quote (PRODUCT.md: "goes to the sales director").
# - Tickets: a ticket, its documents and the SLA board are shared between the departments
#   (PRODUCT.md: "an overdue stage shows yellow on the SLA board"): any signed-in person
#   reads them. A ticket names its customer by id, not the customer's record. Each stage is
#   acted on by its owner: the tech group (an escalation adds the next person of its chain:
#   the tech director only once escalated to), logistics, the requesting rep.
# - The notifier shows each person the deliveries to them; operators (admins, the sales
#   director) every delivery and the dead letters.
# - Figures: reps their own, group leads and sales managers their unit and below, the
#   org-wide reviewers (directors, department heads, finance/risk, tech leads, admins) every
#   node; an engineer or a logistics clerk only their own (they own no customers).
# - Audit trails: admins and the org-wide reviewers (sales director, department heads,
#   finance/risk); not the people working on the record (salesops.audit.AUDITORS).
# - Public without a token: health, readiness, Prometheus metrics, the API documentation
#   and the dashboard's static page; nothing of them is a record.


@dataclass(frozen=True)
class Row:
    service: str  # a service name, or "*" for every service
    method: str
    path: str
    allowed: frozenset[str]  # role columns answered 2xx
    public: bool  # callers without a valid token are answered too

    def expected(self, caller: str) -> str:
        """``allowed``, ``403`` or ``401`` for a role column or an unauthenticated caller."""
        if caller in PEOPLE:
            if self.public or caller in self.allowed:
                return "allowed"
            return "403"
        return "allowed" if self.public else "401"


def parse(table: str = MATRIX) -> list[Row]:
    header, *body = [line for line in table.splitlines() if line.strip()]
    columns = header.split()[1:]  # after "call"
    roles, anon = columns[:-1], columns[-1]
    assert roles == list(PEOPLE), header
    assert anon == "anon", header
    rows = []
    service = ""
    for line in body:
        if line.startswith("["):
            service = line.strip("[]")
            continue
        method, path, *marks = line.split()
        assert len(marks) == len(columns), line
        assert set(marks[:-1]) <= {"+", "-"}, line
        assert marks[-1] in {"+", "401"}, line
        public = marks[-1] == "+"
        assert not public or all(mark == "+" for mark in marks), f"public but refused: {line}"
        allowed = frozenset(role for role, mark in zip(roles, marks, strict=False) if mark == "+")
        rows.append(Row(service, method, path, allowed, public))
    return rows
