package salesforce_test

import (
	"encoding/xml"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// documentedCallCenterItems are the <item> names that Salesforce's Open
// CTI Developer Guide documents for a call center definition file: those
// of "Required Call Center Elements and Attributes" and "Optional Call
// Center Elements and Attributes". Names that start with "req" are
// Salesforce's own; one it does not document (reqDescription was one)
// means nothing to it, so the file in the docs has none.
var documentedCallCenterItems = map[string]bool{
	// Required.
	"reqInternalName":    true,
	"reqDisplayName":     true,
	"reqAdapterUrl":      true,
	"reqUseApi":          true,
	"reqSoftphoneHeight": true,
	"reqSoftphoneWidth":  true,
	"reqCanvasNamespace": true, // only with a Canvas app
	"reqCanvasApiName":   true, // only with a Canvas app
	// Optional.
	"reqSalesforceCompatibilityMode": true,
	"reqStandbyUrl":                  true,
	"reqTimeout":                     true,
}

// callCenter is a call center definition file: sections of items.
type callCenter struct {
	XMLName  xml.Name `xml:"callCenter"`
	Sections []struct {
		Name      string `xml:"name,attr"`
		SortOrder string `xml:"sortOrder,attr"`
		Items     []struct {
			Name      string `xml:"name,attr"`
			SortOrder string `xml:"sortOrder,attr"`
			Label     string `xml:"label,attr"`
			Value     string `xml:",chardata"`
		} `xml:"item"`
	} `xml:"section"`
}

// TestCallCenterDefinition parses the importable call center definition
// file of docs/salesforce.md and checks it against Salesforce's guide:
// one section reqGeneralInfo, only documented items, every required one
// (but the Canvas ones), reqInternalName at sortOrder 0 and
// reqDisplayName at 1, sortOrders from 0 without gaps, and an Open CTI
// softphone shown in Lightning Experience.
func TestCallCenterDefinition(t *testing.T) {
	const path = "../../docs/salesforce.md"
	doc, err := os.ReadFile(path)
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```xml\n(.*?)```").FindAllSubmatch(doc, -1)
	require.Len(t, blocks, 1, "%s has one xml block, the call center definition file", path)

	var cc callCenter
	require.NoError(t, xml.Unmarshal(blocks[0][1], &cc), "%s: the call center definition file", path)
	require.Len(t, cc.Sections, 1, "%s: one section", path)
	section := cc.Sections[0]
	require.Equal(t, "reqGeneralInfo", section.Name)
	require.Equal(t, "0", section.SortOrder)

	values := map[string]string{}
	for n, item := range section.Items {
		require.True(t, documentedCallCenterItems[item.Name],
			"%s: item %q is not one Salesforce documents for a call center definition file", path, item.Name)
		require.NotContains(t, values, item.Name, "%s: item %q twice", path, item.Name)
		require.Equal(t, strconv.Itoa(n), item.SortOrder, "%s: item %q: sortOrder counts from 0 without gaps", path, item.Name)
		require.NotEmpty(t, item.Label, "%s: item %q has no label", path, item.Name)
		values[item.Name] = item.Value
	}
	for name := range documentedCallCenterItems {
		if name == "reqCanvasNamespace" || name == "reqCanvasApiName" || name == "reqStandbyUrl" ||
			name == "reqTimeout" || name == "reqSalesforceCompatibilityMode" {
			continue // for Canvas apps, a standby softphone, or optional
		}
		require.Contains(t, values, name, "%s: the required item %q is missing", path, name)
	}
	require.Equal(t, "reqInternalName", section.Items[0].Name, "reqInternalName has sortOrder 0")
	require.Equal(t, "reqDisplayName", section.Items[1].Name, "reqDisplayName has sortOrder 1")
	require.Regexp(t, `^[A-Za-z][A-Za-z0-9]{0,39}$`, values["reqInternalName"], "reqInternalName: a letter, then letters and digits, at most 40")
	require.Equal(t, "true", values["reqUseApi"], "an Open CTI call center")
	require.Equal(t, "Classic_and_Lightning", values["reqSalesforceCompatibilityMode"])
	for _, size := range []string{"reqSoftphoneHeight", "reqSoftphoneWidth"} {
		_, err := strconv.Atoi(values[size])
		require.NoError(t, err, "%s: %s is a number of pixels", path, size)
	}
}
