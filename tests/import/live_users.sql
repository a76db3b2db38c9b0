-- The original service's users table, verbatim from
-- github.com/pili-engineering/QNLiveKit_Server, app/live/live.sql
-- (commit 240c461, the file last changed in 94f1eb7, 2022-10-25), lines 54-69.
-- Data for the import tests; not code of this project.
CREATE TABLE `live_users` (
    `id` int unsigned NOT NULL AUTO_INCREMENT,
    `user_id` varchar(64) DEFAULT NULL,
    `nick` varchar(64) DEFAULT NULL,
    `avatar` varchar(255) DEFAULT NULL,
    `extends` json DEFAULT NULL,
    `im_userid` bigint DEFAULT NULL,
    `im_username` varchar(64) DEFAULT NULL,
    `im_password` varchar(32) DEFAULT NULL,
    `created_at` datetime DEFAULT NULL,
    `updated_at` datetime DEFAULT NULL,
    `deleted_at` datetime DEFAULT NULL,
    PRIMARY KEY (`id`),
    UNIQUE KEY `user_id` (`user_id`),
    KEY `idx_im_userid` (`im_userid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
