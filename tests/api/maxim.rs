//! `IM_PROVIDER=maxim`: every user's IM credentials log in to Lanying IM
//! (here the fake of `helpers::fake_im`, which checks `app_id`, the admin
//! token and the IM's username rule, and can fail on demand), each account
//! is registered exactly once, and no IM failure loses a user or hands out
//! a login that does not work.

use crate::helpers::fake_im::{Call, FakeIm, Fault};
use crate::helpers::{spawn_maxim_app, TestApp, TestRequest, TestResponse};
use futures_util::future::join_all;
use serde_json::{json, Value};
use std::time::Duration;

/// The profile's IM login, checked against the IM: it logs in, with the
/// IM's own id for that username.
#[track_caller]
fn assert_logs_in(im: &FakeIm, profile: &TestResponse) -> i64 {
    profile.assert_ok();
    let data = profile.data();
    let (im_userid, username, password) = (
        data["im_userid"].as_i64().unwrap(),
        data["im_username"].as_str().unwrap(),
        data["im_password"].as_str().unwrap(),
    );
    assert!(im_userid > 0, "the IM account is complete: {data}");
    assert_eq!(im.logs_in(username, password), Some(im_userid), "{username} logs in");
    im_userid
}

/// A pending IM account is shown as the original showed a failed one:
/// id 0 and no credentials.
#[track_caller]
fn assert_pending(profile: &TestResponse) {
    profile.assert_ok();
    let data = profile.data();
    assert_eq!(
        (data["im_userid"].as_i64(), data["im_username"].as_str()),
        (Some(0), Some(""))
    );
    assert_eq!(data["im_password"], "");
}

async fn register_batch(app: &TestApp, ids: &[&str]) -> TestResponse {
    let users: Value = ids.iter().map(|id| json!({"user_id": id})).collect();
    app.send(TestRequest::post("/server/user/register/batch", &users)).await
}

#[tokio::test]
async fn a_registered_users_im_login_works_and_took_one_im_call() {
    let (app, im) = spawn_maxim_app().await;
    app.register(json!({"user_id": "alice", "nick": "A"})).await.assert_ok();
    assert_eq!((im.calls(Call::Register), im.total_calls()), (1, 1));

    let profile = app.profile("alice").await;
    let im_userid = assert_logs_in(&im, &profile);
    assert_eq!(profile.data()["im_username"], "qlalice");
    assert_eq!(im.account("qlalice").unwrap().user_id, im_userid);
    assert_eq!(app.info("alice").await.data()["im_userid"], im_userid);
    assert_eq!(im.total_calls(), 1, "reads of a complete account make no IM call");
}

#[tokio::test]
async fn registering_an_existing_user_makes_no_im_call_and_keeps_its_password() {
    let (app, im) = spawn_maxim_app().await;
    app.register(json!({"user_id": "bob"})).await.assert_ok();
    let before = app.profile("bob").await;
    im.reset_counters();

    app.register(json!({"user_id": "bob"})).await.assert_error(409, 10001);
    let batch = register_batch(&app, &["bob"]).await;
    batch.assert_ok();
    assert_eq!(batch.data()["bob"], "user already exists");

    assert_eq!(im.total_calls(), 0);
    assert_eq!(app.profile("bob").await.data(), before.data());
    assert_logs_in(&im, &before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_registers_of_one_id_give_one_200_and_one_im_account() {
    let (app, im) = spawn_maxim_app().await;
    let registers = (0..10).map(|_| app.register(json!({"user_id": "carol"})));
    let responses = join_all(registers).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 9, "{statuses:?}");
    assert_eq!(im.calls(Call::Register), 1, "only the winner asked the IM");
    assert_eq!(
        im.calls(Call::ChangePassword),
        0,
        "no loser reset the winner's password"
    );
    assert_logs_in(&im, &app.profile("carol").await);
}

#[tokio::test]
async fn an_account_the_original_service_made_is_adopted_with_the_stored_password() {
    let (app, im) = spawn_maxim_app().await;
    let original_id = im.preexisting("qldave", "Ab3$xY9!");

    app.register(json!({"user_id": "dave"})).await.assert_ok();
    let profile = app.profile("dave").await;
    assert_eq!(assert_logs_in(&im, &profile), original_id);
    assert_eq!(im.logs_in("qldave", "Ab3$xY9!"), None, "the old password is replaced");
    assert_eq!(
        (
            im.calls(Call::Register),
            im.calls(Call::Lookup),
            im.calls(Call::ChangePassword)
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn a_register_whose_im_reply_was_lost_adopts_the_account_it_made() {
    let (app, im) = spawn_maxim_app().await;
    im.inject(Some(Call::Register), Fault::LoseReply, 1);
    app.register(json!({"user_id": "erin"})).await.assert_ok();
    let profile = app.profile("erin").await;
    let im_userid = assert_logs_in(&im, &profile);
    assert_eq!(im.account("qlerin").unwrap().user_id, im_userid, "one account, not two");
    assert_eq!(
        im.calls(Call::Register),
        2,
        "the retry met the account its first attempt made"
    );
}

#[tokio::test]
async fn ids_outside_the_ims_alphabet_get_escaped_usernames_that_log_in() {
    let (app, im) = spawn_maxim_app().await;
    let cases = [
        ("a-b", "ql__a_2d_b"),
        ("x.y", "ql__x_2e_y"),
        ("用户😀", "ql__用户_1f600_"),
        ("me@example.com", "ql__me_40_example_2e_com"),
        ("123", "ql123"),
    ];
    for (user_id, _) in cases {
        app.register(json!({"user_id": user_id})).await.assert_ok();
    }
    for (user_id, username) in cases {
        let profile = app.profile(user_id).await;
        assert_eq!(profile.data()["im_username"], username);
        assert_logs_in(&im, &profile);
    }
}

#[tokio::test]
async fn five_hundreds_and_resets_from_the_im_are_retried() {
    let (app, im) = spawn_maxim_app().await;
    im.inject(Some(Call::Register), Fault::Http(502), 1);
    im.inject(Some(Call::Register), Fault::Reset, 1);
    app.register(json!({"user_id": "frank"})).await.assert_ok();
    assert_logs_in(&im, &app.profile("frank").await);
    assert_eq!(im.calls(Call::Register), 3);
}

#[tokio::test]
async fn with_the_im_down_users_are_stored_pending_and_completed_once_it_is_back() {
    let (app, im) = spawn_maxim_app().await;
    im.set_down(true).await;
    app.register(json!({"user_id": "gina"})).await.assert_ok();
    let batch = register_batch(&app, &["hank", "ivy"]).await;
    batch.assert_ok();
    for id in ["hank", "ivy"] {
        assert!(
            batch.data()[id].as_str().unwrap().contains("IM account is pending"),
            "{}",
            batch.body
        );
    }
    // Stored, but no login is handed out while it would not work.
    assert_pending(&app.profile("gina").await);
    let profiles = app
        .send(TestRequest::get("/server/user/profiles").query("user_ids=hank&user_ids=ivy"))
        .await;
    profiles.assert_ok();
    assert!(profiles
        .data()
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["im_userid"] == 0 && p["im_password"] == ""));

    im.set_down(false).await;
    assert_logs_in(&im, &app.profile("gina").await);
    let profiles = app
        .send(TestRequest::get("/server/user/profiles").query("user_ids=hank&user_ids=ivy"))
        .await;
    for profile in profiles.data().as_array().unwrap() {
        let (username, password) = (
            profile["im_username"].as_str().unwrap(),
            profile["im_password"].as_str(),
        );
        assert_eq!(im.logs_in(username, password.unwrap()), profile["im_userid"].as_i64());
    }
    // Completed for good: the next read asks the IM nothing.
    im.reset_counters();
    app.info("gina").await.assert_ok();
    assert_eq!(im.total_calls(), 0);
}

#[tokio::test]
async fn with_the_im_down_a_batch_stops_asking_it_after_the_first_16_users() {
    let (app, im) = spawn_maxim_app().await;
    // Down behind its gateway, so that the calls made are counted.
    im.inject(Some(Call::Register), Fault::Http(503), usize::MAX);
    let ids: Vec<String> = (0..40).map(|i| format!("down_{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let batch = register_batch(&app, &ids).await;
    batch.assert_ok();
    for id in &ids {
        assert!(
            batch.data()[id].as_str().unwrap().contains("IM account is pending"),
            "{id}: {}",
            batch.body
        );
    }
    // Only the first 16 users, in flight together, each make their three
    // attempts; the other 24 are stored pending without asking the IM.
    let calls = im.calls(Call::Register);
    assert!(calls <= 16 * 3, "{calls} IM calls with the IM down");
    let query: Vec<String> = ids.iter().map(|id| format!("user_ids={id}")).collect();
    let profiles = app
        .send(TestRequest::get("/server/user/profiles").query(&query.join("&")))
        .await;
    assert_eq!(profiles.data().as_array().unwrap().len(), 40, "every user is stored");
}

#[tokio::test]
async fn one_refusal_from_the_im_does_not_stop_a_batch_registering_the_others() {
    let (app, im) = spawn_maxim_app().await;
    im.inject(Some(Call::Register), Fault::Code(10008), 1);
    let ids: Vec<String> = (0..40).map(|i| format!("mixed_{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let batch = register_batch(&app, &ids).await;
    batch.assert_ok();
    let pending = batch.data().as_object().unwrap();
    assert_eq!(pending.len(), 1, "only the refused user is pending: {}", batch.body);
    assert_eq!(im.calls(Call::Register), 40, "a refusal is not an outage");
}

#[tokio::test]
async fn an_im_that_answers_too_late_leaves_the_user_pending_then_adopted() {
    let (app, im) = spawn_maxim_app().await;
    im.set_delay(Duration::from_secs(3));
    // That the IM step is bounded (4 s) is a unit test in paused time
    // (`usecases::register::tests::the_im_step_is_bounded_and_a_late_account_is_adopted_on_the_next_read`).
    app.register(json!({"user_id": "jack"})).await.assert_ok();

    // The IM made the account after the service stopped waiting; the next
    // read finds the name taken and adopts it with the stored password.
    im.set_delay(Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let profile = app.profile("jack").await;
    assert_logs_in(&im, &profile);
    assert!(im.calls(Call::ChangePassword) >= 1, "adopted");
}

#[tokio::test]
async fn an_im_that_refuses_is_no_500_and_the_user_stays_pending() {
    let (app, im) = spawn_maxim_app().await;
    im.inject(Some(Call::Register), Fault::Code(10008), 1);
    app.register(json!({"user_id": "kate"})).await.assert_ok();
    assert_eq!(im.calls(Call::Register), 1);
    let profile = app.profile("kate").await;
    assert_logs_in(&im, &profile);
    assert_eq!(
        im.calls(Call::Register),
        2,
        "a refusal is not retried within the request; the read completes it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batch_register_asks_the_im_for_new_users_only_16_at_a_time() {
    let (app, im) = spawn_maxim_app().await;
    app.register(json!({"user_id": "old"})).await.assert_ok();
    im.reset_counters();
    im.set_delay(Duration::from_millis(20));

    let mut ids: Vec<String> = (0..60).map(|i| format!("new_{i}")).collect();
    ids.extend(["old".to_owned(), "new_1".to_owned()]);
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let response = register_batch(&app, &ids).await;
    response.assert_ok();
    assert_eq!(
        response.data(),
        &json!({"new_1": "repeated in this request: only its first occurrence was registered", "old": "user already exists"})
    );
    assert_eq!(
        im.calls(Call::Register),
        60,
        "existing and repeated users make no IM call"
    );
    assert!(im.max_in_flight() <= 16, "{} IM calls at once", im.max_in_flight());
    assert!(im.max_in_flight() > 1, "the calls overlap");

    let query: Vec<String> = (0..60).map(|i| format!("user_ids=new_{i}")).collect();
    let profiles = app
        .send(TestRequest::get("/server/user/profiles").query(&query.join("&")))
        .await;
    profiles.assert_ok();
    for profile in profiles.data().as_array().unwrap() {
        let (username, password) = (
            profile["im_username"].as_str().unwrap(),
            profile["im_password"].as_str(),
        );
        assert_eq!(im.logs_in(username, password.unwrap()), profile["im_userid"].as_i64());
    }
}

#[tokio::test]
async fn a_wrong_admin_token_never_reaches_a_reply() {
    let (app, im) = spawn_maxim_app().await;
    let wrong = crate::helpers::spawn_app_with(&[
        ("QINIU_KEYS", &format!("{}:{}", crate::helpers::AK, crate::helpers::SK)),
        ("IM_PROVIDER", "maxim"),
        ("MAXIM_API_URL", &im.base_url()),
        ("MAXIM_APP_ID", crate::helpers::IM_APP_ID),
        ("MAXIM_ADMIN_TOKEN", "not-the-token-77"),
    ])
    .await;
    for response in [
        wrong.register(json!({"user_id": "lee"})).await,
        wrong.profile("lee").await,
        register_batch(&wrong, &["mia"]).await,
    ] {
        response.assert_ok();
        assert!(!response.raw.contains("not-the-token-77"));
        assert!(!response.raw.contains(crate::helpers::IM_ADMIN_TOKEN));
    }
    assert_pending(&wrong.profile("lee").await);
    drop(app);
}
