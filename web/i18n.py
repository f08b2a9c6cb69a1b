"""Japanese first, English on request. The language is a cookie the patron sets."""

from __future__ import annotations

from starlette.requests import Request

LANGS = ("ja", "en")
COOKIE = "shiori_lang"

MESSAGES: dict[str, tuple[str, str]] = {
    "site_name": ("藤沢市図書館 蔵書検索", "Fujisawa City Libraries Catalog"),
    "shiori": ("栞 Shiori", "Shiori"),
    "skip_to_content": ("本文へ移動", "Skip to main content"),
    "nav_search": ("資料検索", "Search"),
    "nav_about": ("このサイトについて", "About"),
    "switch_language": ("English", "日本語"),
    "search_label": ("キーワード", "Keywords"),
    "search_placeholder": ("書名・著者名・件名・ISBN など", "Title, author, subject, ISBN…"),
    "search_button": ("検索", "Search"),
    "search_help": (
        "ひらがな・カタカナ・漢字のどれでも探せます。スペースで区切るとすべてを含む資料を探します。",
        "Type kanji, hiragana or katakana. Words separated by spaces must all match.",
    ),
    "advanced": ("詳細検索・絞り込み", "Advanced search and filters"),
    "field_title": ("書名", "Title"),
    "field_author": ("著者名", "Author"),
    "field_publisher": ("出版者", "Publisher"),
    "field_subject": ("件名", "Subject"),
    "field_isbn": ("ISBN", "ISBN"),
    "field_ndc": ("分類（NDC）", "Classification (NDC)"),
    "filter_branch": ("在架している館", "On the shelf at"),
    "filter_any_branch": ("指定なし", "Any"),
    "filter_material": ("資料種別", "Material type"),
    "filter_ndc_class": ("分類", "Class"),
    "filter_year": ("出版年", "Year published"),
    "year_from": ("から", "from"),
    "year_to": ("まで", "to"),
    "sort": ("並び順", "Sort by"),
    "sort_relevance": ("適合度順", "Relevance"),
    "sort_title": ("書名の読み順", "Title (reading)"),
    "sort_year_desc": ("出版年の新しい順", "Newest first"),
    "sort_year_asc": ("出版年の古い順", "Oldest first"),
    "apply": ("この条件で検索", "Apply"),
    "results_heading": ("検索結果", "Search results"),
    "results_count": ("{total}件", "{total} results"),
    "results_count_more": ("{total}件以上", "More than {total} results"),
    "results_range": ("{start}〜{end}件目を表示", "Showing {start}–{end}"),
    "results_ranked_within": (
        "該当が多いため、先頭の{n}件を並べ替えて表示しています。条件を加えて絞り込んでください。",
        "Too many matches: only the first {n} are sorted. Add words or filters to narrow down.",
    ),
    "no_results": (
        "該当する資料は見つかりませんでした。言葉を減らすか、ひらがなで入力してみてください。",
        "Nothing found. Try fewer words, or type the reading in hiragana.",
    ),
    "empty_query": (
        "キーワードを入力するか、絞り込み条件を選んでください。",
        "Type a keyword or choose a filter.",
    ),
    "query_truncated": (
        "検索語が長すぎるため、先頭の部分だけで検索しました。",
        "Your search was too long; only its beginning was used.",
    ),
    "isbn_invalid": (
        "ISBN が正しくありません（10桁または13桁、ハイフンは任意）。",
        "That ISBN is not valid (10 or 13 digits, hyphens optional).",
    ),
    "year_invalid": ("出版年は4桁の数字で入力してください。", "Enter the year as 4 digits."),
    "year_order": (
        "出版年の「から」が「まで」より後になっています。",
        "The 'from' year is after the 'to' year.",
    ),
    "choice_invalid": ("選択肢から選んでください。", "Choose one of the options."),
    "form_has_errors": (
        "入力内容を確認してください。",
        "Please check the highlighted fields.",
    ),
    "page_prev": ("前へ", "Previous"),
    "page_next": ("次へ", "Next"),
    "page_of": ("{page} / {pages} ページ", "Page {page} of {pages}"),
    "pagination": ("ページ送り", "Pagination"),
    "copies_available": ("在架 {available} / 所蔵 {copies}", "{available} of {copies} on shelf"),
    "no_copies": ("所蔵なし", "No copies"),
    "record_heading_copies": ("所蔵", "Copies"),
    "record_details": ("書誌詳細", "Details"),
    "col_branch": ("所蔵館", "Library"),
    "col_call_number": ("請求記号", "Call number"),
    "col_location": ("配架場所", "Location"),
    "col_material": ("資料種別", "Type"),
    "col_status": ("状態", "Status"),
    "col_barcode": ("資料番号", "Item no."),
    "reference_only": ("館内閲覧のみ", "In-library use only"),
    "label_yomi": ("よみ", "Reading"),
    "label_romaji": ("ローマ字", "Romanised"),
    "label_subtitle": ("副書名", "Subtitle"),
    "label_responsibility": ("責任表示", "Statement of responsibility"),
    "label_authors": ("著者", "Authors"),
    "label_publisher": ("出版", "Publication"),
    "label_edition": ("版", "Edition"),
    "label_extent": ("形態", "Extent"),
    "label_series": ("シリーズ", "Series"),
    "label_ndc": ("分類", "Classification"),
    "label_subjects": ("件名", "Subjects"),
    "label_isbn": ("ISBN", "ISBN"),
    "label_language": ("言語", "Language"),
    "label_notes": ("注記", "Notes"),
    "label_source": ("出典", "Source"),
    "source_aozora": ("青空文庫", "Aozora Bunko"),
    "source_ndl": ("国立国会図書館書誌データをもとに作成", "Based on NDL bibliographic data"),
    "source_loc": ("米国議会図書館 (LC) 書誌データ", "Library of Congress catalog data"),
    "source_marc": ("MARC レコード", "MARC record"),
    "source_synth": ("ベンチマーク用の合成データ", "Synthetic benchmark data"),
    "aozora_card": ("青空文庫の図書カード", "Aozora Bunko card"),
    "back_to_results": ("検索結果に戻る", "Back to results"),
    "not_found_title": ("ページが見つかりません", "Page not found"),
    "not_found_body": (
        "お探しのページまたは資料は見つかりませんでした。",
        "The page or record you asked for does not exist.",
    ),
    "error_title": ("エラーが発生しました", "Something went wrong"),
    "error_body": (
        "しばらくしてからもう一度お試しください。",
        "Please try again in a moment.",
    ),
    "bad_request_title": ("リクエストを処理できません", "Bad request"),
    "about_title": ("このサイトについて", "About this site"),
    "footer_credit": (
        "書誌データ: 青空文庫 (CC BY 4.0)・国立国会図書館書誌データをもとに作成",
        "Bibliographic data: Aozora Bunko (CC BY 4.0); based on NDL bibliographic data",
    ),
    "footer_password_notice": (
        "図書館が電話やメールでパスワードをおたずねすることはありません。",
        "The library never asks for your password by phone or email.",
    ),
    "opensearch_name": ("藤沢市図書館", "Fujisawa Libraries"),
    "loading": ("読み込み中…", "Loading…"),
    "nav_my": ("マイライブラリ", "My Library"),
    "nav_login": ("ログイン", "Log in"),
    "nav_logout": ("ログアウト", "Log out"),
    "logged_out": (
        "ログアウトしました。共用の端末ではブラウザーも閉じてください。",
        "You are logged out. On a shared computer, close the browser too.",
    ),
    "login_title": ("ログイン", "Log in"),
    "card_number": ("利用者カード番号", "Library card number"),
    "card_help": ("カード裏面の10桁の番号", "The 10-digit number on your card"),
    "password": ("パスワード", "Password"),
    "show_password": ("パスワードを表示", "Show password"),
    "kiosk_login": (
        "共用の端末（館内OPACなど）で使う — 短時間で自動的にログアウトします",
        "This is a shared computer (library terminal): log me out quickly",
    ),
    "login_button": ("ログイン", "Log in"),
    "no_password_yet": (
        "パスワードをお持ちでない方・忘れた方",
        "No password yet, or forgotten it?",
    ),
    "password_title": ("パスワードの登録", "Setting your password"),
    "password_first_title": ("はじめてのパスワード登録", "Your first password"),
    "password_first_intro": (
        "まだパスワードを登録していない方は、カード番号・生年月日・登録している電話番号で"
        "本人確認をしてパスワードを登録できます。",
        "If you have never set a password, prove it is you with your card number, birth "
        "date and the phone number you registered.",
    ),
    "password_code_title": (
        "カウンターで受け取った登録コードで設定",
        "With a code from the counter",
    ),
    "password_code_intro": (
        "図書館カウンターで発行した登録コード（有効期限あり・1回のみ有効）で設定します。",
        "Use the single-use code a library counter gave you before it expires.",
    ),
    "password_forgot_title": ("パスワードを忘れた方", "Forgotten password"),
    "password_forgot_intro": (
        "メールアドレスを登録している方には、再設定用のリンク（30分間・1回のみ有効）を"
        "お送りします。メールアドレスを登録していない方は、利用者カードをお持ちのうえ"
        "カウンターでお手続きください。",
        "If you registered an email address we send you a link (valid 30 minutes, once). "
        "Without a registered address, please bring your card to a library counter.",
    ),
    "password_forgot_sent": (
        "カード番号とメールアドレスが登録内容と一致した場合は、再設定用のリンクを送りました。"
        "届かない場合は、利用者カードをお持ちのうえカウンターでおたずねください。",
        "If the card number and email match our records, we have sent a link. If nothing "
        "arrives, please bring your card to a library counter.",
    ),
    "password_reset_title": ("新しいパスワードの設定", "Choose a new password"),
    "password_reset_invalid": (
        "このリンクは使えません（期限切れ・使用済み・不正）。もう一度お申し込みください。",
        "This link cannot be used (expired, used or damaged). Please ask for a new one.",
    ),
    "password_rules": (
        "8文字以上（日本語も使えます）。よく使われるもの、カード番号、生年月日は使えません。"
        "長い文章のようなパスワードがおすすめです。",
        "At least 8 characters (Japanese is fine). Common passwords, your card number and "
        "your birth date are refused. A long phrase works well.",
    ),
    "new_password": ("新しいパスワード", "New password"),
    "new_password_again": ("新しいパスワード（確認）", "New password again"),
    "current_password": ("現在のパスワード", "Current password"),
    "birth_date": ("生年月日", "Birth date"),
    "birth_year": ("年", "Year"),
    "birth_month": ("月", "Month"),
    "birth_day": ("日", "Day"),
    "phone": ("登録している電話番号", "Registered phone number"),
    "email": ("登録しているメールアドレス", "Registered email address"),
    "activation_code": ("登録コード", "Code"),
    "set_password_button": ("パスワードを登録", "Set password"),
    "send_link_button": ("リンクを送る", "Send the link"),
    "required": ("入力してください。", "This is required."),
    "passwords_differ": (
        "確認用のパスワードが一致しません。",
        "The two new passwords are not the same.",
    ),
    "birth_date_invalid": ("生年月日が正しくありません。", "That birth date is not valid."),
    "password_set_login": (
        "パスワードを登録しました。新しいパスワードでログインしてください。",
        "Your password is set. Log in with it now.",
    ),
    "password_changed": ("パスワードを変更しました。", "Your password was changed."),
    "change_password_title": ("パスワードの変更", "Change password"),
    "logout_others": (
        "ほかの端末のログインをすべて終了する",
        "Log out my other devices",
    ),
    "change_button": ("変更する", "Change"),
    "my_title": ("マイライブラリ", "My Library"),
    "my_greeting": ("{name} さん", "Hello, {name}"),
    "home_branch": ("登録館", "Home library"),
    "password_set_notice": (
        "パスワードは {when} に{via}から設定されました。お心当たりがない場合はカウンターへ"
        "ご連絡ください。",
        "Your password was set on {when} through {via}. If this was not you, contact the library.",
    ),
    "via_web_first": ("ウェブサイト（初回登録）", "the web site (first password)"),
    "via_activation_code": ("カウンター発行の登録コード", "a counter code"),
    "via_reset": ("パスワード再設定メール", "a reset link"),
    "via_change": ("マイライブラリ", "My Library"),
    "via_demo": ("デモデータ", "demo data"),
    "loans_title": ("貸出状況", "Loans"),
    "loans_summary": (
        "{count}冊借りています（延滞 {overdue}冊）",
        "{count} items on loan ({overdue} overdue)",
    ),
    "no_loans": ("現在借りている資料はありません。", "You have nothing on loan."),
    "due_on": ("返却期限", "Due"),
    "overdue": ("延滞", "Overdue"),
    "renewals": ("延長回数", "Renewals"),
    "renew": ("延長", "Renew"),
    "renew_all": ("まとめて延長", "Renew all"),
    "loan_renewed": ("「{title}」を延長しました。", "Renewed: {title}"),
    "loan_not_renewed": (
        "「{title}」は延長できませんでした。理由は一覧をご覧ください。",
        "Could not renew {title}: see the list for why.",
    ),
    "renew_all_result": (
        "{renewed}冊を延長しました。{refused}冊は延長できませんでした。",
        "Renewed {renewed}; {refused} could not be renewed.",
    ),
    "renewed_now": ("延長しました", "Renewed"),
    "sessions_title": ("ログイン中の端末", "Where you are logged in"),
    "session_device": ("端末", "Device"),
    "session_started": ("ログイン日時", "Logged in"),
    "session_last_seen": ("最終利用", "Last used"),
    "session_this": ("この端末", "This device"),
    "session_kiosk": ("共用端末", "Shared terminal"),
    "session_end": ("ログアウトさせる", "Log out"),
    "session_end_others": ("ほかの端末をすべてログアウト", "Log out all other devices"),
    "session_ended": ("その端末をログアウトさせました。", "That device is logged out."),
    "other_sessions_ended": (
        "ほかの端末をすべてログアウトさせました。",
        "All your other devices are logged out.",
    ),
    "csrf_title": ("もう一度お試しください", "Please try again"),
    "csrf_body": (
        "フォームの有効期限が切れたか、別のサイトから送信されました。ページを再読み込みして"
        "からもう一度操作してください。",
        "The form expired or came from another site. Reload the page and try again.",
    ),
    "ndc_0": ("総記", "General works"),
    "ndc_1": ("哲学", "Philosophy"),
    "ndc_2": ("歴史", "History"),
    "ndc_3": ("社会科学", "Social sciences"),
    "ndc_4": ("自然科学", "Natural sciences"),
    "ndc_5": ("技術", "Technology"),
    "ndc_6": ("産業", "Industry"),
    "ndc_7": ("芸術", "Arts"),
    "ndc_8": ("言語", "Language"),
    "ndc_9": ("文学", "Literature"),
    "ndc_K": ("児童書", "Children's"),
}


# Each feature keeps its texts in its own module (web/<feature>_text.py, a MESSAGES dict);
# they are merged here and a key may be defined only once.
_FEATURE_TEXTS: tuple[str, ...] = ("web.booklist_text", "web.staff_text", "web.holds_text")


def _merge_feature_texts() -> None:
    import importlib

    for name in _FEATURE_TEXTS:
        extra: dict[str, tuple[str, str]] = importlib.import_module(name).MESSAGES
        clash = MESSAGES.keys() & extra.keys()
        if clash:
            raise RuntimeError(f"message keys defined twice: {sorted(clash)}")
        MESSAGES.update(extra)


_merge_feature_texts()


def language(request: Request) -> str:
    lang = request.cookies.get(COOKIE, "ja")
    return lang if lang in LANGS else "ja"


def translate(lang: str, key: str, **values: object) -> str:
    ja, en = MESSAGES[key]
    text = en if lang == "en" else ja
    return text.format(**values) if values else text


def bilingual(key: str) -> str:
    """Japanese then English, for messages shown before a language is known."""
    ja, en = MESSAGES[key]
    return f"{ja} / {en}"
