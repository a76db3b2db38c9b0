'use strict';
/*
End to end: requests signed by the official Qiniu Node SDK (npm `qiniu`,
pinned in scripts/lib.sh, installed by ensure_node_tools) and sent with
Node's own `http` module, against the function served by `cargo lambda
watch`. That is how a Node customer calls a Qiniu-signed API that the SDK has
no client for: `qiniu.util.generateAccessTokenV2` for the Authorization
header, `X-Qiniu-Date` as the SDK's own middleware adds it
(qiniu/httpc/middleware/qiniuAuth.js), `http.request` for the rest. Every
endpoint, ids with Chinese characters and spaces, checked against the
contract's replies like tests/e2e/qiniu_sdk_client.py.

The SDK's quirks are exercised on purpose: with the non-default port of
`cargo lambda watch` it signs the port twice (`Host: 127.0.0.1:9000:9000`),
and for a request without a content type (every GET here) it signs
`Content-Type: application/x-www-form-urlencoded`, which `http` does not send.

Usage: node qiniu_node_client.js BASE_URL    (NODE_PATH must find `qiniu`)
The key pair comes from QNLIVE_AK / QNLIVE_SK.
*/

const http = require('http');
const crypto = require('crypto');
const qiniu = require('qiniu');

const BASE = (process.argv[2] || '').replace(/\/+$/, '');
if (!BASE) {
    console.error('usage: qiniu_node_client.js BASE_URL');
    process.exit(2);
}
const AK = process.env.QNLIVE_AK;
const SK = process.env.QNLIVE_SK;
if (!AK || !SK) {
    console.error('QNLIVE_AK and QNLIVE_SK must be set');
    process.exit(2);
}
const MAC = new qiniu.auth.digest.Mac(AK, SK);
const JSON_TYPE = 'application/json';
const RUN = crypto.randomBytes(4).toString('hex'); // lets the script run twice against one table

function uid(name) {
    return `${name}_${RUN}`;
}

/** A path segment as it goes on the wire: 张 三 -> %E5%BC%A0%20%E4%B8%89. */
function seg(id) {
    return encodeURIComponent(id);
}

/**
 * Signs and sends one request. `contentType` is what the caller gives the
 * signer and sends (none: neither, as for a GET). Resolves to
 * {status, headers, text}.
 */
function send(method, path, { query = null, body = null, contentType = null, mac = MAC, date = true,
    extraHeaders = {} } = {}) {
    const url = new URL(BASE + path);
    for (const [key, value] of query || []) {
        url.searchParams.append(key, value);
    }
    const payload = body === null ? null : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const headers = { ...extraHeaders };
    if (date) {
        headers['X-Qiniu-Date'] = qiniu.util.formatDateUTC(new Date(), 'YYYYMMDDTHHmmssZ');
    }
    if (contentType) {
        headers['Content-Type'] = contentType;
    }
    headers.Authorization = qiniu.util.generateAccessTokenV2(
        mac, url.toString(), method, contentType || undefined, payload || undefined, headers);
    if (payload) {
        headers['Content-Length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
        const request = http.request(url, { method, headers }, (response) => {
            const chunks = [];
            response.on('data', (chunk) => chunks.push(chunk));
            response.on('end', () => resolve({
                status: response.statusCode,
                headers: response.headers,
                text: Buffer.concat(chunks).toString('utf8'),
            }));
            response.on('error', reject);
        });
        request.setTimeout(30000, () => request.destroy(new Error(`${method} ${path}: no reply in 30 s`)));
        request.on('error', reject);
        if (payload) {
            request.write(payload);
        }
        request.end();
    });
}

const post = (path, body, options = {}) => send('POST', path, { body, contentType: JSON_TYPE, ...options });
const put = (path, body) => send('PUT', path, { body, contentType: JSON_TYPE });
const get = (path, options = {}) => send('GET', path, options);

function assert(condition, what) {
    if (!condition) {
        throw new Error(typeof what === 'function' ? what() : what);
    }
}

function show(value) {
    return JSON.stringify(value);
}

/** The reply body, checked to be the contract's envelope. */
function envelope(reply) {
    let body;
    try {
        body = JSON.parse(reply.text);
    } catch (error) {
        throw new Error(`status ${reply.status}, not JSON: ${reply.text.slice(0, 200)}`);
    }
    const allowed = new Set(['request_id', 'code', 'message', 'data']);
    assert(Object.keys(body).every((key) => allowed.has(key)), () => `envelope keys: ${show(body)}`);
    assert(body.request_id && body.request_id === reply.headers['x-reqid'],
        () => `request_id ${show(body.request_id)} vs X-Reqid ${show(reply.headers['x-reqid'])}`);
    return body;
}

function expect(reply, status, code, message) {
    const body = envelope(reply);
    assert(reply.status === status && body.code === code,
        () => `expected ${status}/${code}, got ${reply.status}: ${show(body)}`);
    if (message !== undefined) {
        assert(body.message === message, () => `message: ${show(body)}`);
    }
    return body;
}

function sameJson(actual, expected, what) {
    assert(show(actual) === show(expected), () => `${what}: ${show(actual)} != ${show(expected)}`);
}

/** A user's extends in key order, for comparison. */
function sorted(object) {
    return Object.fromEntries(Object.entries(object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

let passed = 0;
let failed = 0;

async function check(name, test) {
    try {
        await test();
        passed += 1;
        console.log(`ok - ${name}`);
    } catch (error) {
        failed += 1;
        console.log(`FAILED - ${name}: ${error && error.message ? error.message : error}`);
    }
}

async function waitUntilServed() {
    const deadline = Date.now() + 300000;
    for (;;) {
        try {
            await get('/server/user/info/probe', { date: false });
            return;
        } catch (error) {
            if (Date.now() > deadline) {
                console.error(`nothing answered at ${BASE} within 300 s`);
                process.exit(1);
            }
            await new Promise((resolve) => setTimeout(resolve, 500));
        }
    }
}

// Ids that must be percent-encoded in the path: Chinese characters, spaces.
const U1 = uid('张 三');
const U2 = uid('李四 two');
const U3 = uid('u3');
const U4 = uid('王 五');

async function register() {
    const body = expect(await post('/server/user/register',
        { user_id: U1, nick: '用户', avatar: 'http://x/a.png', extends: { age: '18' } }), 200, 0, 'success');
    assert(!('data' in body), () => show(body));
}

async function registerWithoutContentType() {
    // No Content-Type given or sent: the SDK signs the form type and the body.
    expect(await send('POST', '/server/user/register', { body: { user_id: U4 } }), 200, 0, 'success');
}

async function registerExisting() {
    expect(await post('/server/user/register', { user_id: U1 }), 409, 10001, 'user already exists');
}

async function registerBatch() {
    const users = [{ user_id: U2 }, { user_id: U3, nick: 'three' }, { user_id: U1 }, { user_id: U2 }];
    const body = expect(await post('/server/user/register/batch', users), 200, 0, 'success');
    sameJson(sorted(body.data), sorted({
        [U1]: 'user already exists',
        [U2]: 'repeated in this request: only its first occurrence was registered',
    }), 'data');
}

async function update() {
    expect(await put('/server/user/' + seg(U1), { nick: 'new', avatar: '', extends: { k2: 'v2' } }), 200, 0);
}

async function info() {
    // Signed with an extra X-Qiniu-* header (sent in lower case), as the
    // SDK allows.
    const data = expect(await get('/server/user/info/' + seg(U1),
        { extraHeaders: { 'x-qiniu-meta-client': 'node e2e' } }), 200, 0).data;
    const { im_userid: imUserId, ...rest } = data;
    assert(Number.isInteger(imUserId) && imUserId > 0, () => `im_userid ${show(imUserId)}`);
    sameJson({ ...rest, extends: sorted(rest.extends) },
        { user_id: U1, nick: 'new', avatar: 'http://x/a.png', extends: { age: '18', k2: 'v2' } }, 'data');
}

async function infos() {
    const query = [U3, U1, uid('ghost'), U3].map((id) => ['user_ids', id]);
    const data = expect(await get('/server/user/infos', { query }), 200, 0).data;
    sameJson(data.map((u) => u.user_id), [U3, U1], 'user ids');
    assert(data.every((u) => !('im_password' in u)), () => show(data));
}

async function profile() {
    const data = expect(await get('/server/user/profile/' + seg(U2)), 200, 0).data;
    // A space is outside the IM's username alphabet: the id is escaped.
    assert(data.im_username === 'ql__李四_20_two__' + RUN, () => show(data));
    assert(typeof data.im_password === 'string' && data.im_password.length >= 16, () => show(data));
    assert(data.nick === '' && data.avatar === '' && show(data.extends) === '{}', () => show(data));
}

async function profiles() {
    const query = [['user_ids', U2], ['user_ids', U4]];
    const data = expect(await get('/server/user/profiles', { query }), 200, 0).data;
    sameJson(data.map((u) => u.user_id), [U2, U4], 'user ids');
    assert(new Set(data.map((u) => u.im_userid)).size === 2, () => show(data));
}

async function withoutTimestamp() {
    expect(await get('/server/user/info/' + seg(U1), { date: false }), 200, 0);
}

async function errors() {
    expect(await get('/server/user/info/' + seg(uid('nobody 无'))), 404, 404, 'user not found');
    const wrong = new qiniu.auth.digest.Mac(AK, 'wrong-secret');
    expect(await get('/server/user/info/' + seg(U1), { mac: wrong }), 401, 401, 'bad token');
    expect(await post('/server/user/register', { user_id: '' }), 400, 400, 'user_id: must not be empty');
    expect(await get('/server/user/register/batch'), 405, 405);
    expect(await get('/server/user/nowhere/at/all'), 404, 404);
}

async function main() {
    const port = new URL(BASE).port;
    assert(port && port !== '80', `${BASE}: use a non-default port, the case the SDK signs twice`);
    await waitUntilServed();
    for (const [name, test] of [
        ['register', register],
        ['register without a content type', registerWithoutContentType],
        ['register an existing user', registerExisting],
        ['batch register reports existing and repeated ids', registerBatch],
        ['update', update],
        ['info', info],
        ['batch info', infos],
        ['profile', profile],
        ['batch profile', profiles],
        ['signature without X-Qiniu-Date', withoutTimestamp],
        ['error replies', errors],
    ]) {
        await check(name, test);
    }
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
