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
