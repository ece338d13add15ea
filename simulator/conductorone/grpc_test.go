package conductorone

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	v1 "github.com/conductorone/baton-sdk/pb/c1/connectorapi/baton/v1"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	pbstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var ignoreTimes = cmpopts.IgnoreFields(TaskView{}, "CreatedAt", "StartedAt", "LastHeartbeatAt", "FinishedAt")

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Errorf("%s: got %v (%v), want %v", what, got, err, want)
	}
}

func TestTaskLifecycleAndRequeue(t *testing.T) {
	h := newHarness(t, WithHeartbeatInterval(5*time.Second), WithHeartbeatTimeout(60*time.Second))
	creds := h.mint(t, "svc")
	c := h.sdkBatonClient(t, creds)
	ctx := testContext(t)
	getTask := v1.BatonServiceGetTaskRequest_builder{HostId: "h1"}.Build()
	heartbeat := func(id string) *v1.BatonServiceHeartbeatResponse {
		t.Helper()
		resp, err := c.Heartbeat(ctx, v1.BatonServiceHeartbeatRequest_builder{HostId: "h1", TaskId: id}.Build())
		if err != nil {
			t.Fatalf("Heartbeat: %v", err)
		}
		return resp
	}

	id := mustEnqueue(t, h.srv, TaskSpec{Type: TaskFullSync})
	resp, err := c.GetTask(ctx, getTask)
	if err != nil {
		t.Fatalf("GetTask: %v", err)
	}
	got := resp.GetTask()
	if got.GetId() != id || got.GetSyncFull() == nil || got.GetStatus() != v1.Task_STATUS_RUNNING {
		t.Fatalf("GetTask handed out %v, want running full sync %s", got, id)
	}
	if d := resp.GetNextHeartbeat().AsDuration(); d != 5*time.Second {
		t.Errorf("next_heartbeat: got %s, want 5s", d)
	}
	if d := resp.GetNextPoll().AsDuration(); d != 0 {
		t.Errorf("next_poll after a task: got %s, want 0", d)
	}
	running := TaskView{ID: id, Type: TaskFullSync, Status: StatusRunning, Attempts: 1, HostID: "h1",
		ClientID: creds.ClientID, Spec: TaskSpec{Type: TaskFullSync}}
	if diff := cmp.Diff(running, mustTask(t, h.srv, id), ignoreTimes); diff != "" {
		t.Errorf("task after hand-out (-want +got):\n%s", diff)
	}

	// Handed out once: nobody else gets it while its lease holds.
	if resp, err := c.GetTask(ctx, getTask); err != nil || resp.GetTask() != nil {
		t.Fatalf("second GetTask: task %v, err %v; want none", resp.GetTask(), err)
	}

	// Heartbeats keep it alive past the timeout measured from the hand-out.
	h.clock.Advance(40 * time.Second)
	if hb := heartbeat(id); hb.GetCancelled() || hb.GetNextHeartbeat().AsDuration() != 5*time.Second {
		t.Errorf("heartbeat: cancelled=%v next=%s", hb.GetCancelled(), hb.GetNextHeartbeat().AsDuration())
	}
	h.clock.Advance(40 * time.Second)
	if resp, err := c.GetTask(ctx, getTask); err != nil || resp.GetTask() != nil {
		t.Fatalf("GetTask while heartbeats flow: task %v, err %v; want none", resp.GetTask(), err)
	}
	running.Heartbeats = 1
	if diff := cmp.Diff(running, mustTask(t, h.srv, id), ignoreTimes); diff != "" {
		t.Errorf("task after heartbeat (-want +got):\n%s", diff)
	}

	// Heartbeats stop: the task goes back to pending and is handed out again.
	h.clock.Advance(61 * time.Second)
	requeued := running
	requeued.Status, requeued.Requeues = StatusPending, 1
	if diff := cmp.Diff(requeued, mustTask(t, h.srv, id), ignoreTimes); diff != "" {
		t.Errorf("task after missed heartbeats (-want +got):\n%s", diff)
	}
	resp, err = c.GetTask(ctx, getTask)
	if err != nil || resp.GetTask().GetId() != id {
		t.Fatalf("GetTask after re-queue: task %v, err %v; want %s", resp.GetTask(), err, id)
	}
	if v := mustTask(t, h.srv, id); v.Attempts != 2 || v.Status != StatusRunning {
		t.Errorf("after second hand-out: attempts %d status %s, want 2 running", v.Attempts, v.Status)
	}

	// A heartbeat that comes too late finds the task re-queued and is told to stop.
	h.clock.Advance(61 * time.Second)
	if hb := heartbeat(id); !hb.GetCancelled() {
		t.Errorf("late heartbeat: cancelled=false, want true")
	}
	_, err = c.FinishTask(ctx, v1.BatonServiceFinishTaskRequest_builder{HostId: "h1", TaskId: id,
		Success: &v1.BatonServiceFinishTaskRequest_Success{}}.Build())
	wantCode(t, "FinishTask on a re-queued task", err, codes.FailedPrecondition)

	resp, err = c.GetTask(ctx, getTask)
	if err != nil || resp.GetTask().GetId() != id {
		t.Fatalf("third GetTask: task %v, err %v", resp.GetTask(), err)
	}
	if _, err := c.FinishTask(ctx, v1.BatonServiceFinishTaskRequest_builder{HostId: "h1", TaskId: id,
		Success: &v1.BatonServiceFinishTaskRequest_Success{}}.Build()); err != nil {
		t.Fatalf("FinishTask: %v", err)
	}
	done := TaskView{ID: id, Type: TaskFullSync, Status: StatusSucceeded, Attempts: 3, Requeues: 2, Heartbeats: 1,
		HostID: "h1", ClientID: creds.ClientID, Spec: TaskSpec{Type: TaskFullSync}}
	v := mustTask(t, h.srv, id)
	if diff := cmp.Diff(done, v, ignoreTimes); diff != "" {
		t.Errorf("finished task (-want +got):\n%s", diff)
	}
	if v.FinishedAt == nil || v.StartedAt == nil || v.FinishedAt.Before(*v.StartedAt) {
		t.Errorf("finished_at %v / started_at %v", v.FinishedAt, v.StartedAt)
	}

	// Finished is final.
	_, err = c.FinishTask(ctx, v1.BatonServiceFinishTaskRequest_builder{HostId: "h1", TaskId: id,
		Success: &v1.BatonServiceFinishTaskRequest_Success{}}.Build())
	wantCode(t, "second FinishTask", err, codes.FailedPrecondition)
	if hb := heartbeat(id); !hb.GetCancelled() {
		t.Errorf("heartbeat on a finished task: cancelled=false, want true")
	}
	h.clock.Advance(10 * time.Minute)
	if v := mustTask(t, h.srv, id); v.Status != StatusSucceeded {
		t.Errorf("finished task changed to %s", v.Status)
	}
}

func TestFinishTaskWithError(t *testing.T) {
	h := newHarness(t)
	c := h.sdkBatonClient(t, h.mint(t, "svc"))
	ctx := testContext(t)
	id := mustEnqueue(t, h.srv, TaskSpec{Type: TaskDeleteResource, ResourceType: "user", ResourceID: "u1"})
	resp, err := c.GetTask(ctx, v1.BatonServiceGetTaskRequest_builder{HostId: "h1"}.Build())
	if err != nil {
		t.Fatal(err)
	}
	dr := resp.GetTask().GetDeleteResource()
	if dr.GetResourceId().GetResourceType() != "user" || dr.GetResourceId().GetResource() != "u1" {
		t.Errorf("delete_resource task carries %v", dr)
	}
	_, err = c.FinishTask(ctx, v1.BatonServiceFinishTaskRequest_builder{
		HostId: "h1", TaskId: id,
		Status: &pbstatus.Status{Code: int32(codes.NotFound), Message: "user u1 not found"},
		Error:  v1.BatonServiceFinishTaskRequest_Error_builder{NonRetryable: true}.Build(),
	}.Build())
	if err != nil {
		t.Fatalf("FinishTask: %v", err)
	}
	v := mustTask(t, h.srv, id)
	if v.Status != StatusFailed || v.Error != "user u1 not found" || v.ErrorCode != "NotFound" || !v.NonRetryable {
		t.Errorf("failed task: %+v", v)
	}
}

func TestBatonServiceRefusesBadRequests(t *testing.T) {
	h := newHarness(t)
	c := h.sdkBatonClient(t, h.mint(t, "svc"))
	ctx := testContext(t)
	ghost := "AAAAAAAAAAAAAAAAAAAAAAAAAAA"

	_, err := c.GetTask(ctx, &v1.BatonServiceGetTaskRequest{})
	wantCode(t, "GetTask without host id", err, codes.InvalidArgument)
	_, err = c.Heartbeat(ctx, v1.BatonServiceHeartbeatRequest_builder{HostId: "h", TaskId: ghost}.Build())
	wantCode(t, "Heartbeat for an unknown task", err, codes.NotFound)
	_, err = c.Heartbeat(ctx, v1.BatonServiceHeartbeatRequest_builder{HostId: "h", TaskId: "short"}.Build())
	wantCode(t, "Heartbeat with a malformed id", err, codes.InvalidArgument)
	_, err = c.FinishTask(ctx, v1.BatonServiceFinishTaskRequest_builder{HostId: "h", TaskId: ghost,
		Success: &v1.BatonServiceFinishTaskRequest_Success{}}.Build())
	wantCode(t, "FinishTask for an unknown task", err, codes.NotFound)
	_, err = c.Hello(ctx, v1.BatonServiceHelloRequest_builder{HostId: "h"}.Build())
	wantCode(t, "Hello without connector metadata", err, codes.InvalidArgument)
}

func TestGetTasksBatch(t *testing.T) {
	h := newHarness(t)
	c := h.sdkBatonClient(t, h.mint(t, "svc"))
	ctx := testContext(t)
	a := mustEnqueue(t, h.srv, TaskSpec{Type: TaskFullSync})
	b := mustEnqueue(t, h.srv, TaskSpec{Type: TaskCreateAccount, Login: "ann", Email: "ann@example.com", DisplayName: "Ann"})
	cc := mustEnqueue(t, h.srv, TaskSpec{Type: TaskRevoke, EntitlementID: "group:g1:member", EntitlementResourceType: "group",
		EntitlementResourceID: "g1", PrincipalType: "user", PrincipalID: "u1"})

	ids := func(ts []*v1.Task) []string {
		var out []string
		for _, x := range ts {
			out = append(out, x.GetId())
		}
		return out
	}
	resp, err := c.GetTasks(ctx, v1.BatonServiceGetTasksRequest_builder{HostId: "h", PageSize: 2}.Build())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{a, b}, ids(resp.GetTasks())); diff != "" {
		t.Errorf("first batch (-want +got):\n%s", diff)
	}
	resp, err = c.GetTasks(ctx, v1.BatonServiceGetTasksRequest_builder{HostId: "h", PageSize: 10, KnownTaskIds: []string{a, b}}.Build())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{cc}, ids(resp.GetTasks())); diff != "" {
		t.Errorf("second batch (-want +got):\n%s", diff)
	}
	revoke := resp.GetTasks()[0].GetRevoke().GetGrant()
	if revoke.GetId() != "group:g1:member:user:u1" || revoke.GetPrincipal().GetId().GetResource() != "u1" ||
		revoke.GetEntitlement().GetResource().GetId().GetResource() != "g1" {
		t.Errorf("revoke task grant: %v", revoke)
	}
	resp, err = c.GetTasks(ctx, v1.BatonServiceGetTasksRequest_builder{HostId: "h", PageSize: 10}.Build())
	if err != nil || len(resp.GetTasks()) != 0 {
		t.Errorf("third batch: %v, %v; want empty", resp.GetTasks(), err)
	}
}

type uploadMsg = *v1.BatonServiceUploadAssetRequest

func metaMsg(taskID string) uploadMsg {
	return v1.BatonServiceUploadAssetRequest_builder{
		Metadata: v1.BatonServiceUploadAssetRequest_UploadMetadata_builder{HostId: "h1", TaskId: taskID}.Build(),
	}.Build()
}

func dataMsg(b []byte) uploadMsg {
	return v1.BatonServiceUploadAssetRequest_builder{
		Data: v1.BatonServiceUploadAssetRequest_UploadData_builder{Data: b}.Build(),
	}.Build()
}

func eofMsg(sum []byte) uploadMsg {
	return v1.BatonServiceUploadAssetRequest_builder{
		Eof: v1.BatonServiceUploadAssetRequest_UploadEOF_builder{Sha256Checksum: sum}.Build(),
	}.Build()
}

// chunked is an upload the way the SDK sends one: metadata, 512 KiB chunks, EOF with sha256.
func chunked(taskID string, data []byte) []uploadMsg {
	msgs := []uploadMsg{metaMsg(taskID)}
	for off := 0; off < len(data); off += 512 << 10 {
		msgs = append(msgs, dataMsg(data[off:min(off+512<<10, len(data))]))
	}
	sum := sha256.Sum256(data)
	return append(msgs, eofMsg(sum[:]))
}

func fakeC1Z(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return append([]byte("C1Z3\x00"), b...)
}

func sendUpload(t *testing.T, c v1.BatonServiceClient, msgs []uploadMsg) error {
	t.Helper()
	stream, err := c.UploadAsset(testContext(t))
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break // the server closed the stream; CloseAndRecv reports why
		}
	}
	_, err = stream.CloseAndRecv()
	return err
}

func TestUploadAsset(t *testing.T) {
	h := newHarness(t)
	c := h.sdkBatonClient(t, h.mint(t, "svc"))
	ctx := testContext(t)
	id := mustEnqueue(t, h.srv, TaskSpec{Type: TaskFullSync})
	// Hand out this task; a second one stays pending.
	if resp, err := c.GetTask(ctx, v1.BatonServiceGetTaskRequest_builder{HostId: "h1"}.Build()); err != nil || resp.GetTask().GetId() != id {
		t.Fatalf("GetTask: %v, %v", resp.GetTask(), err)
	}
	stillPending := mustEnqueue(t, h.srv, TaskSpec{Type: TaskFullSync})

	first := fakeC1Z(t, 1300<<10) // three chunks
	if err := sendUpload(t, c, chunked(id, first)); err != nil {
		t.Fatalf("good upload: %v", err)
	}
	got, ok := h.srv.Upload(id)
	if !ok || !bytes.Equal(got, first) {
		t.Fatalf("stored upload differs from what was sent (ok=%v, %d vs %d bytes)", ok, len(got), len(first))
	}
	sum := sha256.Sum256(first)
	v := mustTask(t, h.srv, id)
	if v.Uploads != 1 || v.UploadBytes != len(first) || v.UploadSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("after upload: uploads=%d bytes=%d sha=%s", v.Uploads, v.UploadBytes, v.UploadSHA256)
	}

	refusals := []struct {
		name string
		msgs []uploadMsg
		want codes.Code
	}{
		{"tampered checksum", func() []uploadMsg {
			m := chunked(id, fakeC1Z(t, 1000))
			bad := sha256.Sum256([]byte("something else"))
			m[len(m)-1] = eofMsg(bad[:])
			return m
		}(), codes.DataLoss},
		{"tampered data", func() []uploadMsg {
			data := fakeC1Z(t, 1000)
			m := chunked(id, data)
			flipped := bytes.Clone(data)
			flipped[100] ^= 0xff
			m[1] = dataMsg(flipped)
			return m
		}(), codes.DataLoss},
		{"unknown task", chunked("AAAAAAAAAAAAAAAAAAAAAAAAAAA", fakeC1Z(t, 10)), codes.NotFound},
		{"task not running", chunked(stillPending, fakeC1Z(t, 10)), codes.FailedPrecondition},
		{"no metadata", chunked(id, fakeC1Z(t, 10))[1:], codes.InvalidArgument},
		{"empty stream", nil, codes.InvalidArgument},
		{"no EOF", func() []uploadMsg { m := chunked(id, fakeC1Z(t, 10)); return m[:len(m)-1] }(), codes.InvalidArgument},
		{"metadata twice", append([]uploadMsg{metaMsg(id)}, chunked(id, fakeC1Z(t, 10))...), codes.InvalidArgument},
		{"malformed task id", chunked("nope", fakeC1Z(t, 10)), codes.InvalidArgument},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, tc.name, sendUpload(t, c, tc.msgs), tc.want)
		})
	}
	if got, _ := h.srv.Upload(id); !bytes.Equal(got, first) {
		t.Errorf("a refused upload changed the stored c1z")
	}

	// A re-run replaces the c1z; there is still exactly one per task.
	second := fakeC1Z(t, 2000)
	if err := sendUpload(t, c, chunked(id, second)); err != nil {
		t.Fatalf("second upload: %v", err)
	}
	if got, _ := h.srv.Upload(id); !bytes.Equal(got, second) {
		t.Errorf("second upload did not replace the first")
	}
	// Something that is not a c1z (the SDK's debug log) is kept apart.
	if err := sendUpload(t, c, chunked(id, []byte("debug log line\n"))); err != nil {
		t.Fatalf("debug log upload: %v", err)
	}
	if got, _ := h.srv.Upload(id); !bytes.Equal(got, second) {
		t.Errorf("a non-c1z upload replaced the c1z")
	}
	v = mustTask(t, h.srv, id)
	if v.Uploads != 2 || v.OtherAssets != 1 || v.UploadBytes != len(second) {
		t.Errorf("after re-upload: uploads=%d other=%d bytes=%d", v.Uploads, v.OtherAssets, v.UploadBytes)
	}

	// Without a token, no upload.
	wantCode(t, "upload without a token", sendUpload(t, h.bearerBatonClient(t, ""), chunked(id, second)), codes.Unauthenticated)
}

func TestUploadTooLarge(t *testing.T) {
	h := newHarness(t, WithMaxUploadSize(1000))
	c := h.sdkBatonClient(t, h.mint(t, "svc"))
	id := mustEnqueue(t, h.srv, TaskSpec{Type: TaskFullSync})
	if _, err := c.GetTask(testContext(t), v1.BatonServiceGetTaskRequest_builder{HostId: "h1"}.Build()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "oversized upload", sendUpload(t, c, chunked(id, fakeC1Z(t, 2000))), codes.ResourceExhausted)
}

func TestSyncIntervalSchedulesFullSyncs(t *testing.T) {
	h := newHarness(t, WithSyncInterval(50*time.Millisecond))
	c := h.sdkBatonClient(t, h.mint(t, "svc"))
	ctx := testContext(t)
	fullSyncs := func() []TaskView {
		var out []TaskView
		for _, v := range h.srv.Tasks() {
			if v.Type == TaskFullSync {
				out = append(out, v)
			}
		}
		return out
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; tasks %+v", what, h.srv.Tasks())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("the first scheduled sync", func() bool { return len(fullSyncs()) == 1 })

	// While one is pending or running, ticks add no other.
	resp, err := c.GetTask(ctx, v1.BatonServiceGetTaskRequest_builder{HostId: "h1"}.Build())
	if err != nil || resp.GetTask().GetSyncFull() == nil {
		t.Fatalf("GetTask: %v, %v", resp.GetTask(), err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(fullSyncs()); n != 1 {
		t.Fatalf("%d full syncs while one runs, want 1", n)
	}
	if _, err := c.FinishTask(ctx, v1.BatonServiceFinishTaskRequest_builder{HostId: "h1", TaskId: resp.GetTask().GetId(),
		Success: &v1.BatonServiceFinishTaskRequest_Success{}}.Build()); err != nil {
		t.Fatal(err)
	}
	waitFor("the next scheduled sync", func() bool {
		s := fullSyncs()
		return len(s) == 2 && s[1].Status == StatusPending
	})
}
