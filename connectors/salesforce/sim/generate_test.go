package sim

import (
	"context"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGenerate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		org := New(Options{})
		require.NoError(t, org.Seed(DefaultSeed()))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		require.NoError(t, org.Generate(ctx, 2, rand.New(rand.NewPCG(1, 2))))
		require.Equal(t, time.Minute, time.Since(start), "runs until ctx is done")

		cases := org.Records("Case")[18:]
		chats := org.Records("LiveChatTranscript")[8:]
		total := len(cases) + len(chats)
		require.InDelta(t, 120, total, 40, "about 2 a second for a minute")
		require.Greater(t, len(cases), len(chats))
		origins, types := map[any]int{}, map[any]int{}
		var last string
		for _, c := range cases {
			origins[c["Origin"]]++
			types[c["Type"] == "Billing"]++
			require.NotEmpty(t, c["Subject"])
			require.Regexp(t, `^003Sd`, c["ContactId"])
			require.Equal(t, "New", c["Status"])
			require.Equal(t, org.UserID(), c["OwnerId"])
			require.Greater(t, c["SystemModstamp"], last, "stamps increase")
			last = c["SystemModstamp"].(string)
		}
		require.Len(t, origins, 3)
		require.Len(t, types, 2)
		require.Empty(t, org.Writes("Case"), "generated records are not API writes")
		for _, c := range chats {
			require.Equal(t, "Waiting", c["Status"])
			require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, c["ChatKey"])
			require.NotEmpty(t, c["RequestTime"])
		}
	})
	require.Error(t, New(Options{}).Generate(context.Background(), 0, nil))
}
