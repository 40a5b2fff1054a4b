// Package sim is a Salesforce org in memory: the "local org" that lets
// ctibridge's demo and tests run without a real org. An *Org is an
// http.Handler that speaks the subset of the REST API ctibridge uses, with
// Salesforce's wire formats, status codes and error codes, so that any
// Salesforce client library can be pointed at it:
//
//   - POST /services/oauth2/token: client credentials, username-password
//     (password followed by the optional security token) and JWT bearer
//     grants; tokens expire after Options.TokenTTL and a bad one gets
//     401 INVALID_SESSION_ID.
//   - GET /services/data/ (versions), /services/data/vXX.X/ (resources) and
//     /limits (DailyApiRequests and a few others).
//   - /query and /queryAll with a SOQL subset (see soql.go), paginated at
//     Options.PageSize with nextRecordsUrl cursors.
//   - /sobjects: describeGlobal, describe, create, read, update, delete and
//     upsert by external id of single records.
//   - /composite/sobjects: sObject Collections of up to 200 records (create,
//     update, delete, retrieve, upsert by external id), allOrNone included.
//   - /composite: up to 25 subrequests, at most 5 of them collections or
//     queries, with @{ref.field} references, counted as one API call.
//
// Omni-Channel presence: ServicePresenceStatus (seeded with
// PresenceStatuses) and UserServicePresence, which the API reads but may
// not create, update or delete, as in Salesforce. OmniStatus, and a POST
// to OmniControlPath, stand in for the Omni-Channel widget: they set a
// user's presence status or sign them out. OmniAccept, OmniDecline and
// OmniPushTimeout, and a POST to OmniWorkControlPath, answer an AgentWork
// as the agent would there.
//
// The objects are Case, LiveChatTranscript, Task, User and Contact, with
// the custom fields ctibridge writes (Ctibridge_*__c) and Salesforce-style
// 18-character ids. Every write maintains LastModifiedDate, LastModifiedById
// and a strictly increasing SystemModstamp from Options.Now, and the fields
// Salesforce derives: IsClosed and ClosedDate from a Case's Status,
// StopStartDate from its IsStopped (the entitlement process is paused since
// then), Name from a User's or Contact's FirstName and LastName. Every API
// response carries Sforce-Limit-Info: api-usage=N/M.
//
// The org is a peer that people edit too. Edit and Create change records as
// a given user, the way a person in the Salesforce UI or another
// integration does: LastModifiedById (and CreatedById, and OwnerId by
// default) is that user, the field checks are those of an API save, and
// the change is no API call. DefaultSeed's users are the agents alice, bob
// and carol, their supervisor sam and dana, who has left (inactive, so she
// can no longer change anything).
//
// The org accounts for what API clients wrote: Calls and Total count the
// calls, Writes the creates and updates of each record, FieldWrites how many
// updates set each field to a new value and how many to the value it
// already had, and UnchangedWrites lists the latter. Seed, Edit, Create and
// Generate are not API writes, and a rollback takes back what it undoes.
//
// Faults injects what a real org does to its clients: 5xx bursts, latency,
// expired sessions, REQUEST_LIMIT_EXCEEDED, UNABLE_TO_LOCK_ROW and
// ENTITY_IS_DELETED for chosen records, required fields and validation
// rules. Required fields and validation rules bind people's edits too; the
// rest is for API clients only. Seed, LoadSeed and DefaultSeed load
// records; Generate adds new Cases and chats at a rate, for the demo.
//
// Omni-Channel external routing (omni.go): Group (queues),
// QueueRoutingConfig, ServiceChannel, PendingServiceRouting and AgentWork.
// A work item placed in a queue whose routing model is ExternalRouting gets
// a PendingServiceRouting; an AgentWork pushes it; OmniAccept, OmniDecline
// and OmniPushTimeout stand in for the agent in the Omni-Channel widget,
// and an AgentWork left Assigned past its queue's PushTimeout times out by
// itself on the org's clock.
//
// A few behaviours are simplified: one relationship level in SOQL, no
// sharing or field-level security beyond createable/updateable, and no
// triggers, workflows or assignment rules.
package sim
