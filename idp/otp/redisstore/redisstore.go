// Package redisstore is the otp.Store for several IdP processes sharing
// one Redis. Every operation that reads and then writes runs as one Lua
// script, which Redis executes atomically, so the single-use and
// attempt-cap guarantees hold across processes.
//
// Times come from the caller (the otp.Service clock) and are stored as
// Unix milliseconds; Redis TTLs are set as well, but only to collect
// garbage. All keys of one Take must live on one node, so Redis Cluster is
// not supported; use a single primary (with replicas or Sentinel).
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/xszz/xszz/idp/otp"
)

// Store implements otp.Store on Redis.
type Store struct {
	rdb    *redis.Client
	prefix string
}

var _ otp.Store = (*Store)(nil)

// New returns a store keeping its keys under prefix (e.g. "xszz:otp:").
func New(rdb *redis.Client, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix}
}

var putCode = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'h', ARGV[1], 'a', 0, 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// PutCode implements otp.Store.
func (s *Store) PutCode(ctx context.Context, key string, hash []byte, now time.Time, ttl time.Duration) error {
	exp := now.Add(ttl).UnixMilli()
	if err := putCode.Run(ctx, s.rdb, []string{s.prefix + "code:" + key}, hash, exp, max(ttl.Milliseconds(), 1)).Err(); err != nil {
		return fmt.Errorf("redisstore put code: %w", err)
	}
	return nil
}

// The hash comparison in Lua is not constant-time. That is acceptable:
// the stored value is an HMAC under a server secret, so timing can at best
// reveal a prefix of an HMAC output the attacker cannot steer, and every
// comparison costs one of MaxAttempts tries anyway.
var checkCode = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'h', 'a', 'e')
if not v[1] then return 0 end
if tonumber(v[3]) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 0
end
if v[1] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
local a = redis.call('HINCRBY', KEYS[1], 'a', 1)
if a >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  return 3
end
return 2
`)

// CheckCode implements otp.Store.
func (s *Store) CheckCode(ctx context.Context, key string, hash []byte, now time.Time, maxAttempts int) (otp.CheckResult, error) {
	r, err := checkCode.Run(ctx, s.rdb, []string{s.prefix + "code:" + key}, hash, now.UnixMilli(), maxAttempts).Int()
	if err != nil {
		return otp.CheckNotFound, fmt.Errorf("redisstore check code: %w", err)
	}
	switch r {
	case 1:
		return otp.CheckOK, nil
	case 2:
		return otp.CheckMismatch, nil
	case 3:
		return otp.CheckBurned, nil
	}
	return otp.CheckNotFound, nil
}

// Each limit is a sorted set of event times (a sliding-window log). It
// holds at most Max members, because nothing is added once it is full.
// Each limit takes three arguments: window, max, and 1 for a peek (a limit
// that can refuse but is not counted).
var take = redis.NewScript(`
local now = tonumber(ARGV[1])
local member = ARGV[2]
local wait = 0
local out = {0}
for i = 1, #KEYS do
  local w = tonumber(ARGV[3*i])
  local m = tonumber(ARGV[3*i+1])
  if m > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - w)
    local c = redis.call('ZCARD', KEYS[i])
    if c >= m then
      table.insert(out, i - 1)
      local e = redis.call('ZRANGE', KEYS[i], c - m, c - m, 'WITHSCORES')
      local t = tonumber(e[2]) + w - now
      if t > wait then wait = t end
    end
  end
end
if #out > 1 then
  out[1] = wait
  return out
end
for i = 1, #KEYS do
  local w = tonumber(ARGV[3*i])
  if tonumber(ARGV[3*i+1]) > 0 and ARGV[3*i+2] == '0' then
    redis.call('ZADD', KEYS[i], now, member)
    redis.call('PEXPIRE', KEYS[i], w)
  end
end
return out
`)

// Take implements otp.Store.
func (s *Store) Take(ctx context.Context, now time.Time, limits []otp.Limit) (otp.TakeResult, error) {
	if len(limits) == 0 {
		return otp.TakeResult{}, nil
	}
	member, err := nonce()
	if err != nil {
		return otp.TakeResult{}, fmt.Errorf("redisstore take: %w", err)
	}
	keys := make([]string, len(limits))
	args := make([]any, 0, 2+3*len(limits))
	args = append(args, now.UnixMilli(), member)
	for i, l := range limits {
		keys[i] = s.prefix + "limit:" + l.Key
		peek := 0
		if l.Peek {
			peek = 1
		}
		args = append(args, max(l.Window.Milliseconds(), 1), l.Max, peek)
	}
	vals, err := take.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return otp.TakeResult{}, fmt.Errorf("redisstore take: %w", err)
	}
	if len(vals) == 0 {
		return otp.TakeResult{}, errors.New("redisstore take: empty script reply")
	}
	res := otp.TakeResult{RetryAfter: time.Duration(vals[0]) * time.Millisecond}
	for _, v := range vals[1:] {
		res.Blocked = append(res.Blocked, int(v))
	}
	return res, nil
}

// nonce makes sorted-set members unique when two events share a
// millisecond.
func nonce() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
