package sim

import "strings"

// fieldType is a Salesforce field type as describe reports it.
type fieldType string

const (
	typeID        fieldType = "id"
	typeString    fieldType = "string"
	typeTextArea  fieldType = "textarea"
	typePicklist  fieldType = "picklist"
	typeReference fieldType = "reference"
	typeDateTime  fieldType = "datetime"
	typeDate      fieldType = "date"
	typeBoolean   fieldType = "boolean"
	typeEmail     fieldType = "email"
	typePhone     fieldType = "phone"
	typeDouble    fieldType = "double"
)

// isText reports whether values of the type are strings compared case-insensitively.
func (t fieldType) isText() bool {
	switch t {
	case typeString, typeTextArea, typePicklist, typeEmail, typePhone:
		return true
	}
	return false
}

// fieldDef is one field of an object, with the describe attributes the org enforces.
type fieldDef struct {
	Name             string
	Label            string
	Type             fieldType
	Length           int
	Createable       bool
	Updateable       bool
	Nillable         bool
	Required         bool // must have a value on create (and may not be cleared)
	ExternalID       bool
	Unique           bool
	Custom           bool
	Filterable       bool
	Sortable         bool
	AutoNumber       bool
	Calculated       bool
	DefaultOnCreate  any // value set on create when the field is absent
	ReferenceTo      []string
	RelationshipName string
	Picklist         []string
}

// objectDef is one sObject type.
type objectDef struct {
	Name        string
	Label       string
	LabelPlural string
	KeyPrefix   string
	Createable  bool
	Updateable  bool
	Deletable   bool
	Fields      []*fieldDef
	AutoFormat  string // format of the auto-number field, if any

	byLower  map[string]*fieldDef
	relLower map[string]*fieldDef // relationship name -> its lookup field
}

func (o *objectDef) field(name string) *fieldDef { return o.byLower[strings.ToLower(name)] }

func (o *objectDef) relationship(name string) *fieldDef { return o.relLower[strings.ToLower(name)] }

// schema holds the objects of the local org, by lower-case name and by key prefix.
type schema struct {
	objects  []*objectDef
	byLower  map[string]*objectDef
	byPrefix map[string]*objectDef
}

func (s *schema) object(name string) *objectDef { return s.byLower[strings.ToLower(name)] }

// field constructors: the defaults match a plain custom or standard field of that type.

func fID() *fieldDef {
	return &fieldDef{Name: "Id", Label: "Record ID", Type: typeID, Length: 18, Filterable: true, Sortable: true}
}

func fText(name, label string, length int) *fieldDef {
	return &fieldDef{Name: name, Label: label, Type: typeString, Length: length, Createable: true, Updateable: true,
		Nillable: true, Filterable: true, Sortable: true}
}

func fLongText(name, label string, length int) *fieldDef {
	return &fieldDef{Name: name, Label: label, Type: typeTextArea, Length: length, Createable: true, Updateable: true,
		Nillable: true}
}

func fPicklist(name, label string, values ...string) *fieldDef {
	f := fText(name, label, 255)
	f.Type = typePicklist
	f.Picklist = values
	return f
}

func fLookup(name, label, relationship string, to ...string) *fieldDef {
	return &fieldDef{Name: name, Label: label, Type: typeReference, Length: 18, Createable: true, Updateable: true,
		Nillable: true, Filterable: true, Sortable: true, ReferenceTo: to, RelationshipName: relationship}
}

func fDateTime(name, label string) *fieldDef {
	return &fieldDef{Name: name, Label: label, Type: typeDateTime, Createable: true, Updateable: true, Nillable: true,
		Filterable: true, Sortable: true}
}

func fDate(name, label string) *fieldDef {
	f := fDateTime(name, label)
	f.Type = typeDate
	return f
}

func fBool(name, label string) *fieldDef {
	return &fieldDef{Name: name, Label: label, Type: typeBoolean, Createable: true, Updateable: true,
		Filterable: true, Sortable: true, DefaultOnCreate: false}
}

// modifiers

func (f *fieldDef) readOnly() *fieldDef {
	f.Createable, f.Updateable = false, false
	return f
}

func (f *fieldDef) required() *fieldDef {
	f.Required, f.Nillable = true, false
	return f
}

func (f *fieldDef) defaulted(v any) *fieldDef {
	f.DefaultOnCreate, f.Nillable = v, false
	return f
}

func (f *fieldDef) custom() *fieldDef {
	f.Custom = true
	return f
}

func (f *fieldDef) calculated() *fieldDef {
	f.Calculated = true
	return f.readOnly()
}

func (f *fieldDef) email() *fieldDef {
	f.Type = typeEmail
	return f
}

func (f *fieldDef) phone() *fieldDef {
	f.Type = typePhone
	return f
}

// systemFields are the audit fields every object has; the org maintains them.
func systemFields(deletable bool) []*fieldDef {
	fs := []*fieldDef{
		fDateTime("CreatedDate", "Created Date").readOnly(),
		fLookup("CreatedById", "Created By ID", "CreatedBy", "User").readOnly(),
		fDateTime("LastModifiedDate", "Last Modified Date").readOnly(),
		fLookup("LastModifiedById", "Last Modified By ID", "LastModifiedBy", "User").readOnly(),
		fDateTime("SystemModstamp", "System Modstamp").readOnly(),
	}
	for _, f := range fs {
		f.Nillable = false
	}
	if deletable {
		fs = append(fs, fBool("IsDeleted", "Deleted").readOnly())
	}
	return fs
}

// ctibridgeFields are the custom fields ctibridge writes back on its work items.
func ctibridgeFields() []*fieldDef {
	return []*fieldDef{
		fText("Ctibridge_Status__c", "Ctibridge Status", 40).custom(),
		fDateTime("Ctibridge_Due_By__c", "Ctibridge Due By").custom(),
		fBool("Ctibridge_Due_By_Set_Manually__c", "Ctibridge Due By Set Manually").custom(),
		fBool("Ctibridge_Auto_Opened__c", "Ctibridge Auto Opened").custom(),
		fPicklist("Ctibridge_Resumed_From__c", "Ctibridge Resumed From", "deferred", "completed").custom(),
		fText("Ctibridge_Tags__c", "Ctibridge Tags", 255).custom(),
	}
}

func fDouble(name, label string) *fieldDef {
	f := fText(name, label, 0)
	f.Type = typeDouble
	return f
}

func autoNumber(name, label string) *fieldDef {
	f := fText(name, label, 30).readOnly()
	f.AutoNumber, f.Nillable = true, false
	return f
}

func newSchema() *schema {
	owner := func(to ...string) *fieldDef {
		// Never null: a create without it is owned by the running user.
		f := fLookup("OwnerId", "Owner ID", "Owner", append([]string{"User"}, to...)...)
		f.Nillable = false
		return f
	}
	objects := []*objectDef{
		{
			Name: "Case", Label: "Case", LabelPlural: "Cases", KeyPrefix: prefixCase,
			Createable: true, Updateable: true, Deletable: true, AutoFormat: "%08d",
			Fields: concat(
				[]*fieldDef{
					fID(),
					autoNumber("CaseNumber", "Case Number"),
					fText("Subject", "Subject", 255),
					fLongText("Description", "Description", 32000),
					fPicklist("Status", "Status", "New", "Working", "Escalated", "On Hold", "Closed").defaulted("New"),
					fPicklist("Priority", "Priority", "High", "Medium", "Low").defaulted("Medium"),
					fPicklist("Origin", "Case Origin", "Phone", "Email", "Web", "Chat"),
					fPicklist("Type", "Case Type", "Billing", "Technical", "Question", "Problem", "Feature Request"),
					fPicklist("Reason", "Case Reason", "Installation", "Equipment Complexity", "Performance",
						"Breakdown", "Equipment Design", "Feedback", "Other"),
					owner("Group"),
					fLookup("ContactId", "Contact ID", "Contact", "Contact"),
					// Web-to-Case's contact details of the customer.
					fText("SuppliedName", "Web Name", 80),
					fText("SuppliedPhone", "Web Phone", 40),
					fBool("IsClosed", "Closed").calculated(),
					fDateTime("ClosedDate", "Closed Date").readOnly(),
					// Entitlement management: a stopped (paused) entitlement
					// process and, set by the org, since when.
					fBool("IsStopped", "Stopped"),
					fDateTime("StopStartDate", "Stopped Since").readOnly(),
				},
				ctibridgeFields(),
				systemFields(true),
			),
		},
		{
			Name: "LiveChatTranscript", Label: "Live Chat Transcript", LabelPlural: "Live Chat Transcripts",
			KeyPrefix: prefixChat, Createable: true, Updateable: true, Deletable: true, AutoFormat: "%08d",
			Fields: concat(
				[]*fieldDef{
					fID(),
					autoNumber("Name", "Chat Transcript Name"),
					fPicklist("Status", "Status", "Waiting", "InProgress", "Completed", "Missed", "Dropped").defaulted("Waiting"),
					fLongText("Body", "Body", 131072),
					fLookup("CaseId", "Case ID", "Case", "Case"),
					fLookup("ContactId", "Contact ID", "Contact", "Contact"),
					owner("Group"),
					fText("ChatKey", "Chat Key", 255),
					fDateTime("RequestTime", "Request Time"),
					fDateTime("StartTime", "Start Time"),
					fDateTime("EndTime", "End Time"),
				},
				ctibridgeFields(),
				systemFields(true),
			),
		},
		{
			Name: "Task", Label: "Task", LabelPlural: "Tasks", KeyPrefix: prefixTask,
			Createable: true, Updateable: true, Deletable: true,
			Fields: concat(
				[]*fieldDef{
					fID(),
					fText("Subject", "Subject", 255),
					fLongText("Description", "Comments", 32000),
					fPicklist("Status", "Status", "Not Started", "In Progress", "Completed", "Waiting on someone else",
						"Deferred").defaulted("Not Started"),
					fPicklist("Priority", "Priority", "High", "Normal", "Low").defaulted("Normal"),
					fPicklist("Type", "Type", "Call", "Email", "Meeting", "Other"),
					fLookup("WhatId", "Related To ID", "What", "Case", "LiveChatTranscript"),
					fLookup("WhoId", "Name ID", "Who", "Contact"),
					owner(),
					fDate("ActivityDate", "Due Date Only"),
					fBool("IsClosed", "Closed").calculated(),
					externalID(fText("Ctibridge_Audit_Id__c", "Ctibridge Audit Id", 255).custom()),
				},
				systemFields(true),
			),
		},
		{
			Name: "User", Label: "User", LabelPlural: "Users", KeyPrefix: prefixUser,
			Createable: true, Updateable: true, Deletable: false,
			Fields: concat(
				[]*fieldDef{
					fID(),
					unique(fText("Username", "Username", 80).required()),
					fText("FirstName", "First Name", 40),
					fText("LastName", "Last Name", 80).required(),
					fText("Name", "Full Name", 121).calculated(),
					fText("Email", "Email", 128).email().required(),
					fBool("IsActive", "Active").defaulted(true),
				},
				systemFields(false),
			),
		},
		{
			Name: "Contact", Label: "Contact", LabelPlural: "Contacts", KeyPrefix: prefixContact,
			Createable: true, Updateable: true, Deletable: true,
			Fields: concat(
				[]*fieldDef{
					fID(),
					fText("FirstName", "First Name", 40),
					fText("LastName", "Last Name", 80).required(),
					fText("Name", "Full Name", 121).calculated(),
					fText("Email", "Email", 80).email(),
					fText("Phone", "Business Phone", 40).phone(),
					owner(),
				},
				systemFields(true),
			),
		},
	}
	objects = append(objects, omniPresenceObjects()...)
	objects = append(objects, omniObjects()...)
	s := &schema{byLower: map[string]*objectDef{}, byPrefix: map[string]*objectDef{}}
	for _, o := range objects {
		o.byLower = map[string]*fieldDef{}
		o.relLower = map[string]*fieldDef{}
		for _, f := range o.Fields {
			o.byLower[strings.ToLower(f.Name)] = f
			if f.RelationshipName != "" {
				o.relLower[strings.ToLower(f.RelationshipName)] = f
			}
		}
		s.objects = append(s.objects, o)
		s.byLower[strings.ToLower(o.Name)] = o
		s.byPrefix[o.KeyPrefix] = o
	}
	return s
}

func externalID(f *fieldDef) *fieldDef {
	f.ExternalID, f.Unique = true, true
	return f
}

func unique(f *fieldDef) *fieldDef {
	f.Unique = true
	return f
}

func concat(groups ...[]*fieldDef) []*fieldDef {
	var out []*fieldDef
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
