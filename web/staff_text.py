"""Texts of the staff console and of the patron's "staff looked at my record" page."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "staff_console": ("職員用画面", "Staff console"),
    "staff_counter": ("カウンター業務", "Counter"),
    "staff_patrons": ("利用者検索", "Patron lookup"),
    "staff_accounts": ("職員アカウント", "Staff accounts"),
    "staff_audit": ("閲覧記録", "Audit log"),
    "staff_password": ("パスワード変更", "Change password"),
    "staff_role_manager": ("管理者", "Manager"),
    "staff_role_staff": ("職員", "Staff"),
    "staff_role_temporary": ("臨時職員", "Temporary staff"),
    "staff_role_intern": ("実習生", "Intern"),
    "staff_login": ("職員ログイン", "Staff login"),
    "staff_code": ("職員ID", "Staff ID"),
    "staff_login_help": (
        "アカウントは個人ごとです。共用しないでください。パスワードを忘れたときや認証アプリを"
        "なくしたときは、管理者に新しい登録リンクを依頼してください。",
        "Accounts are personal: never share one. If you forget your password or lose your "
        "authenticator, ask a manager for a new enrolment link.",
    ),
    "staff_enrol": ("職員アカウントの登録", "Staff account enrolment"),
    "staff_enrol_intro": (
        "職員ID {code} のパスワードを設定してください。次に認証アプリを登録します。",
        "Set the password for staff ID {code}. Next you will enrol an authenticator app.",
    ),
    "staff_enrol_button": ("パスワードを設定", "Set password"),
    "staff_password_rules": (
        "{n}文字以上。よく使われるものや職員IDを含むものは使えません。最近の{h}回分と同じ"
        "パスワードも使えません。",
        "At least {n} characters; nothing common and not your staff ID; none of your last {h}.",
    ),
    "staff_mfa": ("2段階認証", "Second factor"),
    "staff_mfa_enrol_intro": (
        "認証アプリ（Google Authenticator など）でこのQRコードを読み取るか、下の鍵を入力し、"
        "表示された6桁の数字を入力してください。",
        "Scan this QR code with an authenticator app (or type the key below), then type the "
        "6 digits it shows.",
    ),
    "staff_mfa_qr_alt": ("認証アプリ登録用のQRコード", "QR code for the authenticator app"),
    "staff_mfa_secret": ("手入力用の鍵", "Key to type by hand"),
    "staff_mfa_intro": (
        "認証アプリの6桁の数字、または回復コードを入力してください。",
        "Type the 6 digits from your authenticator app, or a recovery code.",
    ),
    "staff_mfa_code": ("確認コード", "Code"),
    "staff_mfa_button": ("確認", "Verify"),
    "staff_recovery_title": ("回復コード", "Recovery codes"),
    "staff_recovery_intro": (
        "認証アプリが使えないときのための回復コードです。各コードは1回だけ使えます。"
        "この画面は二度と表示されません。安全な場所に控えてください。",
        "Use these if your authenticator is unavailable; each works once. This page is shown "
        "only once: keep them somewhere safe.",
    ),
    "staff_continue": ("職員用画面へ進む", "Continue to the staff console"),
    "staff_welcome": ("{name} さん、こんにちは。", "Hello, {name}."),
    "staff_password_changed": (
        "パスワードを変更しました。ほかの端末のログインは終了しました。",
        "Your password was changed. Your other sessions have ended.",
    ),
    "staff_change_password_button": ("変更する", "Change"),
    "staff_denied_title": ("この操作は権限がありません", "Not allowed for your role"),
    "staff_denied_body": (
        "あなたの役割ではこの画面・操作は使えません。この試みは記録されます。",
        "Your role does not allow this page or action. The attempt is recorded.",
    ),
    "staff_scan_ok_checkout": (
        "貸出しました：{title}（返却期限 {due}）",
        "Checked out: {title} (due {due})",
    ),
    "staff_scan_ok_return": ("返却しました：{title}", "Returned: {title}"),
    "staff_scan_ok_renew": (
        "延長しました：{title}（返却期限 {due}）",
        "Renewed: {title} (due {due})",
    ),
    "staff_scan_ok_receive": (
        "回送資料を受け取りました（資料番号 {barcode}）：",
        "Received from transit (barcode {barcode}):",
    ),
    "staff_route_ready": (
        "予約棚へ置いてください（{branch}）",
        "Put it on the hold shelf here ({branch})",
    ),
    "staff_route_in_transit": (
        "予約のため {branch} へ回送してください",
        "Reserved: send it in transit to {branch}",
    ),
    "staff_route_available": (
        "予約はありません。書架へ戻してください",
        "No reservation waits for it: reshelve it",
    ),
    "staff_receive_help": (
        "他館から回送されてきた予約資料を読み取ると、予約棚への取り置きになります。",
        "Scan a reserved item that arrived from another branch: it goes on the hold shelf.",
    ),
    "staff_scan_overdue": ("延滞", "overdue"),
    "staff_scan_failed": (
        "処理できません（資料番号 {barcode}）：",
        "Not done (barcode {barcode}):",
    ),
    "staff_counter_modes": ("処理の種類", "Counter task"),
    "staff_mode_checkout": ("貸出", "Check out"),
    "staff_mode_return": ("返却", "Return"),
    "staff_mode_renew": ("延長", "Renew"),
    "staff_mode_receive": ("回送資料の受け取り", "Receive item in transit"),
    "staff_card": ("利用者カード番号", "Library card number"),
    "staff_barcode": ("資料番号（バーコード）", "Item barcode"),
    "staff_scan_list": ("処理した資料", "Scanned items"),
    "staff_due": ("返却期限 {due}", "due {due}"),
    "staff_scan_clear": ("一覧を消去", "Clear the list"),
    "staff_scan_empty": ("まだ処理した資料はありません。", "Nothing scanned yet."),
    "staff_search_name": ("氏名またはフリガナ", "Name or reading"),
    "staff_search_card_only": (
        "あなたの役割ではカード番号でのみ検索できます。",
        "Your role searches by card number only.",
    ),
    "staff_name": ("氏名", "Name"),
    "staff_name_kana": ("フリガナ", "Reading"),
    "staff_category": ("利用者区分", "Category"),
    "staff_category_general": ("一般", "General"),
    "staff_category_university": ("大学生", "University student"),
    "staff_category_high_school": ("高校生", "High school student"),
    "staff_category_junior_high": ("中学生", "Junior high school student"),
    "staff_category_elementary": ("小学生以下", "Elementary school or younger"),
    "staff_category_other": ("その他", "Other"),
    "staff_expires": ("有効期限", "Card expires"),
    "staff_expired": ("期限切れ", "expired"),
    "staff_loans": ("貸出中", "Current loans"),
    "staff_no_patrons": ("該当する利用者はいません。", "No patron found."),
    "staff_masked": ("（非表示）", "(hidden)"),
    "staff_patron_record": ("利用者記録", "Patron record"),
    "staff_patron_saved": ("保存しました。", "Saved."),
    "staff_audited_notice": (
        "この画面の表示は閲覧記録に残ります。",
        "Opening this page is recorded in the audit log.",
    ),
    "staff_birth_date": ("生年月日", "Birth date"),
    "staff_address": ("住所", "Address"),
    "staff_phone": ("電話番号", "Phone"),
    "staff_email": ("メールアドレス", "Email"),
    "staff_patron_edit": ("連絡先・区分の修正", "Correct contact details and category"),
    "staff_title": ("書名", "Title"),
    "staff_not_saved": (
        "保存していません。赤字の項目を確認してください。",
        "Nothing was saved. Please check the fields marked in red.",
    ),
    "staff_save": ("保存", "Save"),
    "staff_account_new": ("職員アカウントの作成", "New staff account"),
    "staff_account_edit": ("職員アカウント {code}", "Staff account {code}"),
    "staff_affiliation": ("所属", "Affiliation"),
    "staff_role": ("役割", "Role"),
    "staff_registered": ("登録日", "Registered"),
    "staff_ends": ("終了日（この日まで有効）", "End date (last valid day)"),
    "staff_state": ("状態", "State"),
    "staff_state_ended": ("終了", "Ended"),
    "staff_state_active": ("有効", "Active"),
    "staff_state_pending": ("登録待ち", "Awaiting enrolment"),
    "staff_end_now": ("今すぐ終了", "End now"),
    "staff_new_link": ("登録リンクを再発行", "New enrolment link"),
    "staff_branch": ("館", "Branch"),
    "staff_duties": ("担当業務（臨時職員）", "Assigned duties (temporary staff)"),
    "staff_duties_help": (
        "臨時職員にだけ割り当てられます。",
        "Only temporary staff take assigned duties.",
    ),
    "staff_enrol_link_title": ("登録リンク", "Enrolment link"),
    "staff_enrol_link_intro": (
        "職員ID {code} の本人にだけ渡してください。1回だけ、{hours}時間以内に使えます。"
        "この画面を閉じると再表示できません。",
        "Give this to the holder of staff ID {code} only. It works once, within {hours} "
        "hours, and is not shown again.",
    ),
    "staff_audit_intro": (
        "職員が利用者の個人情報を表示・修正した記録と、拒否された試みです。内容そのものは"
        "記録されません。記録は変更・削除できません。",
        "Every staff view or change of a patron's personal data, and refused attempts. Values "
        "are never recorded, and records cannot be changed or deleted.",
    ),
    "staff_day_from": ("開始日", "From"),
    "staff_day_to": ("終了日", "To"),
    "staff_outcome": ("結果", "Outcome"),
    "staff_outcome_allowed": ("表示・実行", "Allowed"),
    "staff_outcome_refused": ("拒否", "Refused"),
    "staff_when": ("日時", "When"),
    "staff_field_groups": ("項目", "Fields"),
    "staff_screen": ("画面", "Screen"),
    "staff_audit_none": ("該当する記録はありません。", "No records."),
    "staff_date": ("日付", "Date"),
    "my_staff_access_title": (
        "職員があなたの記録を確認した日",
        "When staff looked at your record",
    ),
    "my_staff_access_intro": (
        "図書館の職員があなたの登録情報を表示・修正した日付と館です（職員の名前は表示しません）。",
        "The days and branches at which library staff viewed or corrected your registered "
        "details (staff names are not shown).",
    ),
    "my_staff_access_none": ("記録はありません。", "There are no records."),
}
