-- Version 5: the batch function runs a replay ledger's advance
-- (store.OpAdvance), which an operation's "if" may name: the challenge's
-- end then waits on the time step of the authenticator-app code that
-- completes it, in the same statement. The function is otherwise that of
-- version 3; an instance of an earlier release, which sends no advance,
-- runs on it unchanged.

-- {{p}}run_batch runs the operations of ops in order and returns their
-- results, one object each: an operation with "if" runs only when the
-- operation it names (one-based) ran and succeeded, a bounded increment
-- refusing nothing, a code's consumption matching or an advance raising
-- its mark (store.SkipOp), and is otherwise {"skip": true}.
CREATE OR REPLACE FUNCTION {{p}}run_batch(ops JSONB, now_us BIGINT) RETURNS JSONB
LANGUAGE plpgsql AS $fn$
DECLARE
	_cnt  INTEGER := jsonb_array_length(ops);
	_out  JSONB := '[]';
	_op   JSONB;
	_res  JSONB;
	_if   INTEGER;
	_ok   BOOLEAN[] := '{}';
	_b    JSONB;
	_v    BYTEA;
	_exp  BIGINT;
	_n    BIGINT;
	_r    BIGINT;
	_max  INTEGER;
	_att  INTEGER;
	_rc   BIGINT;
BEGIN
	FOR i IN 1 .. _cnt LOOP
		_op := ops -> (i - 1);
		_ok[i] := false;
		_if := (_op->>'if')::INTEGER;
		IF _if IS NOT NULL AND NOT coalesce(_ok[_if], false) THEN
			_out := _out || jsonb_build_array(jsonb_build_object('skip', true));
			CONTINUE;
		END IF;
		_res := '{}';
		CASE _op->>'t'
		WHEN 'peek' THEN
			SELECT c.n, c.reset_at INTO _n, _r FROM {{p}}counters c WHERE c.k = _op->>'k' AND c.reset_at > now_us;
			IF FOUND THEN
				_res := jsonb_build_object('n', _n, 'r', _r);
			END IF;
		WHEN 'get' THEN
			SELECT s.v INTO _v FROM {{p}}states s WHERE s.k = _op->>'k' AND (s.expires_at IS NULL OR s.expires_at > now_us);
			IF FOUND THEN
				_res := jsonb_build_object('f', true, 'v', translate(encode(_v, 'base64'), E'\n', ''));
			END IF;
		WHEN 'list' THEN
			SELECT jsonb_build_object('l', coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'm', x.method, 'l', x.label,
				'd', translate(encode(x.data, 'base64'), E'\n', ''), 'c', x.created_at, 'u', x.last_used_at) ORDER BY x.created_at, x.id), '[]'))
			INTO _res FROM {{p}}enrollments x WHERE x.user_id = _op->>'u';
		WHEN 'incr' THEN
			_b := {{p}}incr_below(_op->'i', now_us);
			_ok[i] := NOT jsonb_path_exists(_b, '$[*] ? (@.f == true)');
			_res := jsonb_build_object('b', _b);
		WHEN 'mark' THEN
			INSERT INTO {{p}}ledger AS l (k, v, expires_at) VALUES (_op->>'k', 1, (_op->>'e')::BIGINT)
			ON CONFLICT (k) DO UPDATE SET v = excluded.v, expires_at = excluded.expires_at
			WHERE l.expires_at IS NOT NULL AND l.expires_at <= now_us;
			GET DIAGNOSTICS _rc = ROW_COUNT;
			_res := jsonb_build_object('w', _rc > 0);
		WHEN 'advance' THEN
			INSERT INTO {{p}}ledger AS l (k, v, expires_at) VALUES (_op->>'k', coalesce((_op->>'v')::BIGINT, 0), (_op->>'e')::BIGINT)
			ON CONFLICT (k) DO UPDATE SET v = excluded.v, expires_at = excluded.expires_at
			WHERE (l.expires_at IS NOT NULL AND l.expires_at <= now_us) OR l.v < excluded.v;
			GET DIAGNOSTICS _rc = ROW_COUNT;
			_res := jsonb_build_object('w', _rc > 0);
			_ok[i] := _rc > 0;
		WHEN 'reset' THEN
			DELETE FROM {{p}}counters c WHERE c.k = _op->>'k';
		WHEN 'consume' THEN
			SELECT c.hash, c.expires_at, c.max_attempts, c.attempts INTO _v, _exp, _max, _att
			FROM {{p}}codes c WHERE c.grp = _op->>'g' AND c.k = _op->>'k' FOR UPDATE;
			IF NOT FOUND THEN
				_res := jsonb_build_object('s', 0);
			ELSIF _exp IS NOT NULL AND _exp <= now_us THEN
				DELETE FROM {{p}}codes c WHERE c.grp = _op->>'g' AND c.k = _op->>'k';
				_res := jsonb_build_object('s', 3);
			ELSIF _max > 0 AND _att >= _max THEN
				_res := jsonb_build_object('s', 4);
			ELSIF {{p}}ct_equal(_v, decode(_op->>'h', 'base64')) THEN
				DELETE FROM {{p}}codes c WHERE c.grp = _op->>'g' AND c.k = _op->>'k';
				_res := jsonb_build_object('s', 1);
				_ok[i] := true;
			ELSE
				UPDATE {{p}}codes c SET attempts = c.attempts + 1 WHERE c.grp = _op->>'g' AND c.k = _op->>'k';
				_res := jsonb_build_object('s', 2);
			END IF;
		WHEN 'put' THEN
			INSERT INTO {{p}}codes (grp, k, hash, expires_at, max_attempts, attempts)
			VALUES (_op->>'g', _op->>'k', decode(_op->>'h', 'base64'), (_op->>'e')::BIGINT, coalesce((_op->>'m')::INTEGER, 0), 0)
			ON CONFLICT (grp, k) DO UPDATE SET hash = excluded.hash, expires_at = excluded.expires_at,
				max_attempts = excluded.max_attempts, attempts = 0;
		WHEN 'touch' THEN
			UPDATE {{p}}enrollments x SET last_used_at = (_op->>'tm')::BIGINT
			WHERE x.user_id = _op->>'u' AND x.id = _op->>'id' AND (x.last_used_at IS NULL OR x.last_used_at < (_op->>'tm')::BIGINT);
		WHEN 'none' THEN
			NULL;
		ELSE
			RAISE EXCEPTION 'unknown operation %', _op->>'t';
		END CASE;
		_out := _out || jsonb_build_array(_res);
	END LOOP;
	RETURN _out;
END
$fn$;
