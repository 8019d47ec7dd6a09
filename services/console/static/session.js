// Who is signed in and the names the screens show: the person and their roles
// (/auth/me), the org directory's names, units and teams (/auth/directory), and the
// customers the person oversees (for names on tasks and tickets).

import { api, get } from "./api.js";
import { duration } from "./format.js";
import { language } from "./i18n.js";

export const session = {
  config: null,
  me: null,
  people: new Map(),
  units: new Map(),
  teams: [],
  stages: new Map(),
  customers: new Map(),
  documentTypes: null,
  customersLoaded: 0,
};

const SALES = ["sales_rep", "group_lead", "sales_manager", "sales_director"];
const SUPERVISORS = ["group_lead", "sales_manager", "sales_director"];
const CUSTOMER_CACHE_MS = 15000;

export function hasRole(...roles) {
  return Boolean(session.me?.roles?.some((role) => roles.includes(role)));
}

export const isSales = () => hasRole(...SALES);
export const isRep = () => hasRole("sales_rep");
export const isSupervisor = () => hasRole(...SUPERVISORS, "admin");
export const isDirector = () => hasRole("sales_director");
export const mayDecideConcessions = () => hasRole("sales_director", "finance_risk");

/** Teams the person works in or answers for (member, lead, head or escalation chain). */
export function myTeams(kind) {
  const me = session.me?.id;
  return session.teams.filter(
    (team) =>
      (!kind || team.kind === kind) &&
      [...team.members, ...team.escalation_chain, team.lead, team.head].includes(me),
  );
}

export const isTech = () =>
  hasRole("tech_engineer", "tech_lead", "tech_director") || myTeams("tech").length > 0;
export const isLogistics = () =>
  hasRole("logistics", "logistics_lead") || myTeams("logistics").length > 0;

export function setDirectory(directory) {
  session.people = new Map(directory.people.map((p) => [p.id, p]));
  session.units = new Map(directory.org_units.map((u) => [u.id, u]));
  session.teams = directory.teams;
  session.stages = new Map(directory.stages.map((s) => [s.id, s]));
}

export function personName(id) {
  return session.people.get(id)?.name ?? id ?? "—";
}

export function unitName(id) {
  return session.units.get(id)?.name ?? id ?? "—";
}

export function teamName(id) {
  return session.teams.find((team) => team.id === id)?.name ?? id ?? "—";
}

export function stageName(id) {
  const stage = session.stages.get(id);
  if (!stage) return id;
  return language() === "zh" ? stage.name_zh : stage.name_en;
}

/** Everyone below the person in the reporting line (the people whose records they see). */
export function peopleBelow(personId = session.me?.id) {
  const below = [];
  for (const person of session.people.values()) {
    let boss = person.manager;
    const seen = new Set();
    while (boss && !seen.has(boss)) {
      if (boss === personId) {
        below.push(person);
        break;
      }
      seen.add(boss);
      boss = session.people.get(boss)?.manager;
    }
  }
  return below;
}

/** The reps whose customers and tasks the person sees (themselves first, if a rep). */
export function repsOverseen() {
  const all = [...session.people.values()].filter((p) => p.roles.includes("sales_rep"));
  if (hasRole("sales_director", "admin")) return all;
  const below = new Set(peopleBelow().map((p) => p.id));
  return all.filter((p) => p.id === session.me?.id || below.has(p.id));
}

export function customerName(id) {
  return session.customers.get(id)?.name ?? id;
}

/** The customers the person oversees, cached briefly; nobody else may list them. */
export async function loadCustomers({ force = false } = {}) {
  if (!isSales() && !hasRole("admin")) return [];
  if (!force && Date.now() - session.customersLoaded < CUSTOMER_CACHE_MS) {
    return [...session.customers.values()];
  }
  const found = await get(api("customers", "/customers?limit=500"));
  rememberCustomers(found);
  session.customersLoaded = Date.now();
  return found;
}

export function rememberCustomers(customers) {
  for (const customer of customers) session.customers.set(customer.customer_id, customer);
}

/** The technical documents a request can ask for, with the group providing each. */
export async function documentTypes() {
  if (!session.documentTypes)
    session.documentTypes = await get(api("collaboration", "/document-types"));
  return session.documentTypes;
}

export function documentName(id) {
  const doc = session.documentTypes?.find((d) => d.id === id);
  if (!doc) return id;
  return language() === "zh" ? doc.name_zh : doc.name_en;
}

export function clearSession() {
  session.me = null;
  session.customers = new Map();
  session.customersLoaded = 0;
  session.documentTypes = null;
}

/** A policy window as people read it ("24小时", "4 h"), e.g. sla("tech_answer"). */
export function sla(name) {
  return duration(session.config?.sla_seconds?.[name] ?? null);
}
