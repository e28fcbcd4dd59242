// Slack's ids: one pattern per kind, used by configuration checks, mentions and DMs. A user id
// is U or W (enterprise grid) and at least two more characters; `cli:bob` and `schedule` are
// actors without one.
export const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;
export const SLACK_USER_GROUP_ID = /^S[A-Z0-9]{2,}$/;
export const SLACK_CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;

export const isSlackUserId = (id: string): boolean => SLACK_USER_ID.test(id);
/** Who a role can name: a user, or a user group (all its members). */
export const isSlackUserOrGroupId = (id: string): boolean =>
  SLACK_USER_ID.test(id) || SLACK_USER_GROUP_ID.test(id);
