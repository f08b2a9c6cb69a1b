"""Texts of My Booklist (merged into web.i18n.MESSAGES)."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "booklist_title": ("マイブックリスト", "My Booklist"),
    "booklist_add": ("マイブックリストに追加", "Add to My Booklist"),
    "booklist_add_login": (
        "ログインしてマイブックリストに追加",
        "Log in to add to My Booklist",
    ),
    "booklist_added": ("マイブックリストに追加しました。", "Added to My Booklist."),
    "booklist_already": ("すでにマイブックリストにあります。", "Already in My Booklist."),
    "booklist_add_failed": (
        "追加できませんでした。マイブックリストのページでお試しください。",
        "Could not add it. Please try from the My Booklist page.",
    ),
    "booklist_open": ("マイブックリストを見る", "Open My Booklist"),
    "booklist_needs_js": (
        "マイブックリストはお使いのブラウザーの中で暗号化するため、JavaScript が必要です。",
        "My Booklist is encrypted inside your browser, so it needs JavaScript.",
    ),
    "booklist_intro": (
        "気になる資料を自分だけのリストに残せます。リストはこのブラウザーの中で暗号化してから"
        "図書館のサーバーに保存するので、図書館の職員やシステム会社にも読めません。",
        "Keep a private list of records. It is encrypted inside your browser before it is "
        "stored on the library's server, so neither library staff nor the system vendor can "
        "read it.",
    ),
    "booklist_loading": ("読み込み中…", "Loading…"),
    "booklist_unlock_heading": ("マイブックリストを開く", "Open My Booklist"),
    "booklist_unlock_help": (
        "リストの鍵はパスワードから作ります。パスワードはこのブラウザーの中でだけ使い、"
        "どこにも送りません。",
        "The list's key is made from your password. The password is used only inside this "
        "browser and is not sent anywhere.",
    ),
    "booklist_create_help": (
        "はじめて使うときは、パスワードを入力するとリストを作ります。",
        "The first time, enter your password to create your list.",
    ),
    "booklist_remember": (
        "この端末ではログアウトするまで鍵を保持する（共用の端末では選ばないでください）",
        "Keep the key on this device until I log out (not on a shared computer)",
    ),
    "booklist_unlock_button": ("開く", "Open"),
    "booklist_wrong_password": (
        "パスワードが違います。ログインに使っているパスワードを入力してください。",
        "That is not your password. Enter the password you log in with.",
    ),
    "booklist_locked_heading": (
        "リカバリーキーでマイブックリストを戻す",
        "Restore My Booklist with your recovery key",
    ),
    "booklist_locked_help": (
        "パスワードが再設定されたため、リストは鍵がかかったままです。保存したリカバリーキーと"
        "現在のパスワードを入力すると戻ります。",
        "Your password was reset, so the list is still locked. Enter the recovery key you "
        "saved and your current password to get it back.",
    ),
    "booklist_recovery_key": ("リカバリーキー", "Recovery key"),
    "booklist_restore_button": ("戻す", "Restore"),
    "booklist_wrong_recovery": (
        "リカバリーキーが違います。印刷または保存したキーをもう一度確認してください。",
        "That recovery key does not fit. Check the key you printed or saved.",
    ),
    "booklist_discard_heading": (
        "リカバリーキーがない場合",
        "If you do not have the recovery key",
    ),
    "booklist_discard_button": (
        "今のリストを消去して新しく始める",
        "Delete the old list and start again",
    ),
    "booklist_discard_confirm": (
        "鍵のかかったリストを消去します。元に戻せません。よろしいですか。",
        "This deletes the locked list for good. Continue?",
    ),
    "booklist_empty": (
        "まだ何もありません。資料の画面や検索結果の「マイブックリストに追加」から追加できます。",
        "Nothing here yet. Use “Add to My Booklist” on a record or in search results.",
    ),
    "booklist_count": ("{count}件", "{count} items"),
    "booklist_sort": ("並び順", "Sort by"),
    "booklist_sort_added": ("追加した順（新しい順）", "Date added (newest)"),
    "booklist_sort_title": ("書名順", "Title"),
    "booklist_sort_author": ("著者名順", "Author"),
    "booklist_sort_group": ("グループ順", "Group"),
    "booklist_filter_group": ("グループ", "Group"),
    "booklist_all_groups": ("すべて", "All"),
    "booklist_no_group": ("なし", "None"),
    "booklist_group": ("グループ", "Group"),
    "booklist_note": ("メモ", "Note"),
    "booklist_save_entry": ("保存", "Save"),
    "booklist_remove": ("削除", "Remove"),
    "booklist_saved": ("保存しました。", "Saved."),
    "booklist_removed": ("削除しました。", "Removed."),
    "booklist_save_failed": (
        "保存できませんでした。通信を確認してもう一度お試しください。",
        "Could not save. Check your connection and try again.",
    ),
    "booklist_merged": (
        "ほかの端末での変更とまとめて保存しました。",
        "Saved together with changes made on another device.",
    ),
    "booklist_export": ("ファイルに書き出す", "Export to a file"),
    "booklist_export_help": (
        "書き出したファイルは暗号化されていません。大切に保管してください。",
        "The exported file is not encrypted. Keep it safe.",
    ),
    "booklist_export_csv": ("CSV で書き出す", "Export CSV"),
    "booklist_export_json": ("JSON で書き出す", "Export JSON"),
    "booklist_availability": ("在架状況を表示する", "Show shelf availability"),
    "booklist_availability_help": (
        "表示するとき、リストにある資料の番号（書名やメモではありません）をログインと結びつけずに"
        "サーバーへ問い合わせます。",
        "To show it, the browser asks the server about the record numbers in your list "
        "(not titles or notes), without your login cookie.",
    ),
    "booklist_copies": ("在架 {available} / 所蔵 {copies}", "{available} of {copies} on shelf"),
    "booklist_no_copies": ("所蔵なし", "No copies"),
    "booklist_recovery_heading": ("リカバリーキー", "Recovery key"),
    "booklist_recovery_none": (
        "パスワードを忘れて再設定すると、リストは読めなくなり消去されます。リカバリーキーを"
        "作って印刷・保存しておけば、再設定のあとでもリストを戻せます。",
        "If you forget and reset your password, the list can no longer be read and is "
        "deleted. Make a recovery key and print or save it to get the list back after a reset.",
    ),
    "booklist_recovery_set": (
        "リカバリーキーは作成済みです。なくした場合は作り直してください（古いキーは使えなく"
        "なります）。",
        "You have a recovery key. If you lost it, make a new one (the old one stops working).",
    ),
    "booklist_recovery_make": ("リカバリーキーを作る", "Make a recovery key"),
    "booklist_recovery_remake": ("リカバリーキーを作り直す", "Make a new recovery key"),
    "booklist_recovery_shown": (
        "このキーは一度だけ表示します。印刷するか、安全な場所に書き写してください。図書館は"
        "このキーを保存していないため、お問い合わせいただいても再発行できません。",
        "This key is shown only once. Print it or copy it somewhere safe. The library does "
        "not keep it and cannot give it to you again.",
    ),
    "booklist_recovery_print": ("印刷する", "Print"),
    "booklist_recovery_done": ("保存しました（キーを隠す）", "I saved it (hide the key)"),
    "booklist_kiosk_note": (
        "共用端末では鍵をこのページの中だけで使い、ページを離れると消えます。",
        "On a shared terminal the key exists only while this page is open.",
    ),
    "booklist_lock_now": ("この端末の鍵を消す", "Forget the key on this device"),
    "booklist_threat_heading": ("暗号化で守れること・守れないこと", "What the encryption protects"),
    "booklist_threat_protects": (
        "守れること: データベースやバックアップが漏えいしても、図書館の職員・システム会社の"
        "運用担当者がサーバーを見ても、リストの書名・著者・メモ・グループは読めません。"
        "サーバーにあるのは暗号文と、その大きさ・版番号・更新日時だけです。大きさから件数が"
        "分からないよう、4 KB 単位に埋めてから暗号化します。",
        "Protected: if the database or a backup leaks, or when library staff or the vendor's "
        "operators look at the server, the titles, authors, notes and groups cannot be read. "
        "The server holds only ciphertext, its size, a version number and times. The list is "
        "padded to 4 KB steps before encryption so its size does not tell how many items it has.",
    ),
    "booklist_threat_not": (
        "守れないこと: このサイトが配信するプログラムを書き換えられる人（サーバーへの侵入者や"
        "悪意のある運用者）は、次に開いたときにパスワードやリストを盗むことができます。"
        "また、在架状況を表示するときは資料番号をサーバーに問い合わせます（ログインとは"
        "結びつけませんが、時刻や接続元から推測される可能性はあります）。不要なら表示を"
        "オフにできます。",
        "Not protected: anyone who can change the code this site serves (an intruder or a "
        "malicious operator) could steal your password or list the next time you open it. "
        "Showing availability asks the server about record numbers (not tied to your login, "
        "though time and network address might hint at it); you can turn it off.",
    ),
    "booklist_threat_password": (
        "パスワードを忘れて再設定すると、リカバリーキーがない限りリストは戻りません。"
        "パスワードの変更（現在のパスワードが分かる場合）ではリストはそのまま残ります。",
        "A password reset loses the list unless you have the recovery key. Changing your "
        "password (knowing the current one) keeps the list.",
    ),
    "booklist_my_link": ("マイブックリスト（暗号化）", "My Booklist (encrypted)"),
    "booklist_reset_warning_lost": (
        "ご注意: パスワードを再設定すると、マイブックリストは消去されます。リカバリーキーが"
        "作成されていないため、図書館でも元に戻せません。",
        "Warning: resetting your password deletes your My Booklist. No recovery key was made, "
        "so nobody, not even the library, can bring it back.",
    ),
    "booklist_reset_confirm": (
        "マイブックリストが消去されることを理解しました",
        "I understand that My Booklist will be deleted",
    ),
    "booklist_reset_warning_recoverable": (
        "パスワードを再設定すると、マイブックリストには鍵がかかります。ログイン後、保存した"
        "リカバリーキーを入力すると戻ります。キーがなければ戻せません。",
        "After the reset your My Booklist is locked. Log in and enter the recovery key you "
        "saved to get it back; without the key it cannot be restored.",
    ),
    "booklist_reset_warning_generic": (
        "マイブックリストをお使いの方へ: パスワードを再設定すると、リカバリーキーを保存して"
        "いない限りリストは消去されます（暗号化されているため図書館でも戻せません）。パスワードを"
        "覚えている場合は、ログインして「パスワードの変更」をお使いください。",
        "If you use My Booklist: a password reset deletes it unless you saved its recovery "
        "key (it is encrypted, so the library cannot restore it). If you remember your "
        "password, log in and use “Change password” instead.",
    ),
    "booklist_group_want": ("読みたい", "Want to read"),
    "booklist_group_read": ("読んだ", "Read"),
    "booklist_rewrapping": (
        "マイブックリストの鍵を新しいパスワードで包み直しています…",
        "Re-wrapping your My Booklist key with the new password…",
    ),
}
