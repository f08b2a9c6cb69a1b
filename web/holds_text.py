"""Texts of the reservation pages (merged into web.i18n.MESSAGES)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "holds_title": ("予約状況", "Reservations"),
    "hold_reserve": ("予約する", "Reserve"),
    "hold_reserve_title": ("資料の予約", "Reserve this title"),
    "hold_reserve_intro": (
        "どの所蔵でも、最初に用意できた1冊をお取り置きします。",
        "The first copy that becomes free is set aside for you, whichever library owns it.",
    ),
    "hold_pickup": ("受取館", "Pickup library"),
    "hold_login_to_reserve": ("ログインして予約", "Log in to reserve"),
    "hold_not_reservable": (
        "この資料は予約できません（館内閲覧のみ）。",
        "This title cannot be reserved (in-library use only).",
    ),
    "hold_placed": (
        "「{title}」を予約しました。あなたは {position} 番目です。",
        "Reserved: {title}. You are number {position} in line.",
    ),
    "hold_already": ("予約済み", "Reserved"),
    "hold_see_mine": ("予約状況を見る", "See my reservations"),
    "holds_none": ("予約している資料はありません。", "You have no reservations."),
    "holds_summary": (
        "{count}件予約しています（上限 {limit}件）",
        "{count} reservations (limit {limit})",
    ),
    "hold_waiting": (
        "予約待ち：あなたは {position} 番目 / {copies} 冊所蔵",
        "Waiting: you are number {position} in line for {copies} copies",
    ),
    "hold_estimate": ("お渡しの目安：約{days}日後", "Estimated wait: about {days} days"),
    "hold_no_estimate": (
        "いまは待ち時間の目安を出せません。",
        "The wait cannot be estimated right now.",
    ),
    "hold_why_moves": (
        "順番は、前の方が予約を取り消したり受け取らなかったりすると繰り上がります。"
        "休止中の予約は順番を保ったまま、再開するまで飛ばされます。",
        "Your place moves up when someone ahead cancels or does not collect. Suspended "
        "reservations keep their place but are skipped until they resume.",
    ),
    "hold_suspended": (
        "休止中：{date} から再開します（順番はそのままです）",
        "Suspended: resumes on {date} (you keep your place)",
    ),
    "hold_in_transit": (
        "{branch}へ回送中です。届いたらお知らせします。",
        "In transit to {branch}. We will tell you when it arrives.",
    ),
    "hold_ready": (
        "{branch}でご用意しています。{date}までにお受け取りください。",
        "Ready for pickup at {branch} until {date}.",
    ),
    "hold_placed_on": ("予約日", "Reserved on"),
    "hold_cancel": ("予約を取り消す", "Cancel reservation"),
    "hold_cancelled": ("「{title}」の予約を取り消しました。", "Cancelled: {title}"),
    "hold_change_pickup": ("受取館を変更", "Change pickup library"),
    "hold_pickup_changed": ("受取館を変更しました。", "Pickup library changed."),
    "hold_suspend_until": ("休止する期限", "Suspend until"),
    "hold_suspend": ("休止する", "Suspend"),
    "hold_suspended_now": ("予約を休止しました。", "Reservation suspended."),
    "hold_resume": ("休止を解除", "Resume"),
    "hold_resumed": ("予約を再開しました。", "Reservation resumed."),
    "hold_date_invalid": (
        "日付を YYYY-MM-DD の形で入力してください。",
        "Enter the date as YYYY-MM-DD.",
    ),
    "hold_updated": ("更新しました", "Updated"),
    "hold_notices_title": ("メールでのお知らせ", "Email notices"),
    "hold_notices_no_email": (
        "メールアドレスが登録されていないため、お知らせは送られません。登録はカウンターで"
        "お申し出ください。",
        "You have no email address registered, so no notices are sent. Ask at a counter "
        "to register one.",
    ),
    "hold_notice_ready": (
        "予約資料が用意できたらメールで知らせる",
        "Email me when a reservation is ready for pickup",
    ),
    "hold_notice_reminder": ("返却期限のお知らせ", "Due-date reminder"),
    "hold_notice_reminder_off": ("送らない", "Off"),
    "hold_notice_reminder_days": ("期限の{days}日前", "{days} days before"),
    "hold_notices_save": ("保存", "Save"),
    "hold_notices_saved": ("お知らせの設定を保存しました。", "Notice settings saved."),
}
