// i18n.js — the interface's words in English and Lithuanian, keyed by id, and the
// helpers that pick the interface language and read the offers' language maps.
// Every page imports it; strings live only here.

const STRINGS = {
  en: {
    'skip': 'Skip to content',
    'nav.main': 'Main',
    'nav.courses': 'Courses',
    'nav.impact': 'Impact',
    'nav.login': 'Log in',
    'nav.signup': 'Sign up',
    'nav.me': 'My applications',
    'nav.logout': 'Log out',
    'ui.lang': 'Interface language',
    'home.label': 'My home university',
    'home.none': '— choose —',
    'footer.text': 'mcx — an open micro-credential exchange.',
    'error.network': 'The server could not be reached. Check your connection and try again.',
    'error.generic': 'Something went wrong. Please try again.',
    'error.invalid_credentials': 'Wrong email address or password.',
    'error.conflict': 'An account with this email address exists already.',
    'error.email': 'Enter a valid email address.',
    'not_stated': 'Not stated',

    'rec.choose': 'Choose your home university to see whether this course is recognised there.',
    'rec.none': 'No recognition agreement known for {home} covers this course yet.',
    'rec.yes': 'Recognised at {home}: {n} ECTS',

    'cat.title': 'Courses — mcx',
    'cat.heading': 'Find a micro-credential',
    'cat.lead': 'Short courses from European universities, with credits that count.',
    'cat.search_form': 'Course search',
    'cat.search': 'Search courses',
    'cat.search_placeholder': 'e.g. data, climate, German',
    'cat.search_button': 'Search',
    'cat.filters': 'Filters',
    'cat.filters_close': 'Show results',
    'cat.sort': 'Sort by',
    'sort.relevance': 'Relevance',
    'sort.start': 'Start date',
    'sort.ects': 'ECTS credits',
    'sort.title': 'Title',
    'facet.eqf': 'EQF level',
    'facet.ects': 'ECTS credits',
    'facet.language': 'Language',
    'facet.isced': 'Field',
    'facet.mode': 'Mode',
    'facet.institution': 'Institution',
    'facet.dates': 'Start date',
    'facet.starts_after': 'Starts after',
    'facet.starts_before': 'Starts before',
    'facet.none': 'No values',
    'chips': 'Active filters',
    'chip.remove': 'Remove filter: ',
    'chip.clear': 'Clear all',
    'chip.after': 'Starts after {d}',
    'chip.before': 'Starts before {d}',
    'total.one': '{n} course',
    'total.few': '{n} courses',
    'total.many': '{n} courses',
    'total.other': '{n} courses',
    'total.loading': 'Searching…',
    'total.none': 'No courses match your search.',
    'total.none_hint': 'Try fewer words or check the spelling.',
    'total.none_filters': 'Remove a filter or clear them all.',
    'results': 'Results',
    'more': 'Show more',
    'more.loading': 'Loading…',
    'card.starts': 'Starts {d}',
    'card.ects': '{n} ECTS',
    'eqf': 'EQF {n}',
    'ects.band': '{a} to under {b} ECTS',
    'ects.band_below': 'Under {b} ECTS',
    'ects.band_open': '{a}+ ECTS',
    'ects.min': 'At least {a} ECTS',
    'ects.max': 'At most {b} ECTS',
    'mode.online': 'Online',
    'mode.blended': 'Blended',
    'mode.onsite': 'On site',
    'price.free': 'Free',

    'offer.title': 'Course — mcx',
    'offer.back': 'Back to results',
    'offer.loading': 'Loading the course…',
    'offer.not_found': 'Course not found',
    'offer.not_found_text': 'This course does not exist or is no longer offered.',
    'offer.browse': 'Go to the catalogue',
    'offer.facts': 'Key facts',
    'offer.provider': 'Provider',
    'offer.country': 'Country',
    'offer.dates': 'Dates',
    'offer.deadline': 'Application deadline',
    'offer.mode': 'Mode',
    'offer.language': 'Language',
    'offer.ects': 'ECTS credits',
    'offer.eqf': 'EQF level',
    'offer.field': 'Field',
    'offer.price': 'Price',
    'offer.workload': 'Workload',
    'offer.hours': '{n} hours',
    'offer.outcomes': 'Learning outcomes',
    'offer.description': 'Description',
    'offer.assessment': 'Assessment',
    'offer.qa': 'Quality assurance',
    'offer.prerequisites': 'Prerequisites',
    'offer.apply': 'Apply',
    'offer.apply_hint': 'We record your application and take you to the provider’s page to finish it.',
    'offer.apply_login': 'Log in first: we take you back here afterwards.',
    'offer.applying': 'Recording your application…',
    'offer.applied': 'Application recorded',
    'offer.applied_go': 'Taking you to the provider…',
    'offer.applied_stay': 'The provider has no web page for it: contact them directly.',
    'offer.homepage': 'Course page at the provider',
    'offer.provider_homepage': 'Provider’s website',
    'offer.recognition': 'Credit at your university',

    'signup.title': 'Sign up — mcx',
    'signup.heading': 'Create your account',
    'signup.lead': 'Apply to courses and keep track of your applications.',
    'signup.name': 'Name',
    'signup.name_hint': 'Optional.',
    'signup.email': 'Email',
    'signup.password': 'Password',
    'signup.password_hint': 'At least 10 characters.',
    'signup.submit': 'Create account',
    'signup.have': 'Already have an account?',
    'signup.login': 'Go to the login page',
    'signup.busy': 'Creating your account…',

    'login.title': 'Log in — mcx',
    'login.heading': 'Log in',
    'login.email': 'Email',
    'login.password': 'Password',
    'login.submit': 'Log in',
    'login.none': 'No account yet?',
    'login.signup': 'Create an account',
    'login.busy': 'Logging in…',

    'verify.title': 'Verify a credential — mcx',
    'verify.heading': 'Verify a micro-credential',
    'verify.loading': 'Checking the registry…',
    'verify.valid': 'Valid: this credential was issued and has not been revoked.',
    'verify.revoked': 'Revoked: the issuer withdrew this credential.',
    'verify.unknown': 'Unknown: this registry has issued no credential with this id.',
    'verify.error': 'The registry could not be asked just now. Try again later.',
    'verify.learner': 'Awarded to',
    'verify.course': 'Micro-credential',
    'verify.issuer': 'Issued by',
    'verify.issued': 'Issued on',
    'verify.revoked_at': 'Revoked on',
    'verify.reason': 'Reason',
    'verify.note': 'This page shows what the issuer\'s registry says. It shows no personal data beyond the name.',
    'me.title': 'My applications — mcx',
    'me.heading': 'My applications',
    'me.loading': 'Loading your applications…',
    'me.empty': 'You have not applied to any course yet.',
    'me.find': 'Find a course',
    'me.signed_out': 'You are not logged in. Log in to see the courses you applied to.',
    'me.login': 'Go to the login page',
    'me.applied': 'Applied on {d}',
    'me.withdrawn': 'No longer offered',
    'me.signed_in_as': 'Signed in as {who}.',

    'impact.title': 'Impact of the exchange — mcx',
    'impact.heading': 'Impact of the exchange',
    'impact.lead': 'What the network’s micro-credentials have done over a period, month by month.',
    'impact.from': 'From',
    'impact.to': 'To',
    'impact.show': 'Show',
    'impact.figures': 'Figures',
    'impact.period': '{from} to {to}',
    'impact.loading': 'Counting…',
    'impact.exposed': 'Students reached by the catalogue',
    'impact.applied': 'Applications',
    'impact.issued': 'Credentials issued',
    'impact.mobilities': 'Mobilities recognised',
    'impact.per_month': 'Month by month',
    'impact.chart_label': 'Line chart of the four figures per month; the same numbers are in the table that follows.',
    'impact.series_caption': 'The four figures per month',
    'impact.month': 'Month',
    'impact.csv': 'Download CSV',
    'impact.by_institution': 'By institution',
    'impact.error': 'The figures could not be counted just now. Try again later.',
    'impact.note': 'A student reached by the catalogue is a browser that searched it or was shown or read a course, counted once per period. Applications, credentials and mobilities are counted when they happen.',

    'nav.queue': 'Queue',
    'queue.title': 'Registrar queue — mcx',
    'queue.heading': 'Recognition requests',
    'queue.lead': 'Requests to recognise credits at {inst}, with the automatic checks’ proposal.',
    'queue.loading': 'Loading the queue…',
    'queue.login': 'Log in as a registrar',
    'queue.login_text': 'This page is for registrars. Log in with a registrar account to see your institution’s queue.',
    'queue.forbidden': 'This page is for registrars',
    'queue.forbidden_text': 'You are signed in, but only a registrar of an institution decides recognition requests. Your own requests are on your account page.',
    'queue.status': 'Status',
    'queue.status_all': 'All',
    'status.submitted': 'Submitted',
    'status.proposed': 'Proposed',
    'status.appealed': 'Appealed',
    'status.decided': 'Decided',
    'queue.requests': 'Requests',
    'queue.col_status': 'Status',
    'queue.col_student': 'Student',
    'queue.col_credential': 'Credential',
    'queue.col_issuer': 'Issuer',
    'queue.col_ects': 'ECTS',
    'queue.col_proposal': 'Proposal',
    'queue.col_reasons': 'Reason codes',
    'queue.empty': 'No requests with this status.',
    'queue.error': 'The queue could not be loaded just now. Try again later.',
    'queue.back': 'Back to the queue',
    'queue.credential': 'Credential',
    'queue.issuer': 'Issuer',
    'queue.ects': 'ECTS',
    'queue.eqf': 'EQF level',
    'queue.grade_sent': 'Grade',
    'queue.awarded': 'Awarded',
    'queue.target': 'Counts towards',
    'queue.submitted': 'Submitted',
    'queue.proposal': 'Proposal',
    'queue.outcome': 'Outcome',
    'queue.credits': 'Credits',
    'queue.grade': 'Grade',
    'queue.agreement': 'Agreement',
    'queue.rule': 'Rule',
    'queue.none': 'None',
    'queue.reasons_found': 'Why it needs review',
    'queue.no_reasons': 'Every check passed.',
    'queue.appeal': 'Appeal',
    'queue.audit': 'Audit trail',
    'queue.audit_when': 'When',
    'queue.audit_actor': 'Who',
    'queue.audit_action': 'Action',
    'queue.audit_details': 'Details',
    'queue.decision': 'Decision',
    'queue.decide': 'Record a decision',
    'queue.decide_hint': 'Reasons are required unless the decision is exactly a “recognised” proposal, with its credits and grade.',
    'queue.reasons': 'Reasons',
    'queue.reasons_hint': 'In words the student can read and contest.',
    'queue.submit': 'Record decision',
    'queue.saving': 'Recording…',
    'queue.decided': 'Decided: {outcome}.',
    'queue.decided_at': 'Decided on {d}',
    'queue.after_appeal': 'after the appeal',
    'queue.not_found': 'No such request, or not one for your institution.',
    'outcome.recognised': 'Recognised',
    'outcome.partially_recognised': 'Partially recognised',
    'outcome.not_recognised': 'Not recognised',
    'outcome.needs_review': 'Needs review',
    'queue.agreements': 'Agreements',
    'queue.ag_title': 'Title',
    'queue.ag_parties': 'Parties',
    'queue.ag_status': 'Status',
    'queue.ag_approvals': 'Approved by',
    'queue.ag_action': 'Action',
    'queue.ag_none': 'Your institution is party to no agreement yet.',
    'queue.approve': 'Approve hash {hash}',
    'queue.approve_label': 'Approve hash {hash} of {title}',
    'queue.approved': 'Approved. The agreement is {status}.',
    'ag.draft': 'Draft',
    'ag.active': 'Active',
    'ag.terminated': 'Terminated',
  },

  lt: {
    'skip': 'Pereiti prie turinio',
    'nav.main': 'Pagrindinis meniu',
    'nav.courses': 'Kursai',
    'nav.impact': 'Poveikis',
    'nav.login': 'Prisijungti',
    'nav.signup': 'Registruotis',
    'nav.me': 'Mano paraiškos',
    'nav.logout': 'Atsijungti',
    'ui.lang': 'Sąsajos kalba',
    'home.label': 'Mano universitetas',
    'home.none': '— pasirinkite —',
    'footer.text': 'mcx — atviras mikrokredencialų mainų tinklas.',
    'error.network': 'Nepavyko susisiekti su serveriu. Patikrinkite ryšį ir bandykite dar kartą.',
    'error.generic': 'Įvyko klaida. Bandykite dar kartą.',
    'error.invalid_credentials': 'Neteisingas el. pašto adresas arba slaptažodis.',
    'error.conflict': 'Paskyra su šiuo el. pašto adresu jau yra.',
    'error.email': 'Įveskite teisingą el. pašto adresą.',
    'not_stated': 'Nenurodyta',

    'rec.choose': 'Pasirinkite savo universitetą ir pamatysite, ar šis kursas jame įskaitomas.',
    'rec.none': '{home}: šio kurso apimančių pripažinimo susitarimų kol kas nežinoma.',
    'rec.yes': '{home} įskaito: {n} ECTS',

    'cat.title': 'Kursai — mcx',
    'cat.heading': 'Raskite mikrokredencialą',
    'cat.lead': 'Trumpi Europos universitetų kursai, kurių kreditai įskaitomi.',
    'cat.search_form': 'Kursų paieška',
    'cat.search': 'Ieškoti kursų',
    'cat.search_placeholder': 'pvz., duomenys, klimatas, vokiečių',
    'cat.search_button': 'Ieškoti',
    'cat.filters': 'Filtrai',
    'cat.filters_close': 'Rodyti rezultatus',
    'cat.sort': 'Rikiuoti pagal',
    'sort.relevance': 'Tinkamumą',
    'sort.start': 'Pradžios datą',
    'sort.ects': 'ECTS kreditus',
    'sort.title': 'Pavadinimą',
    'facet.eqf': 'EQF lygis',
    'facet.ects': 'ECTS kreditai',
    'facet.language': 'Kalba',
    'facet.isced': 'Sritis',
    'facet.mode': 'Forma',
    'facet.institution': 'Institucija',
    'facet.dates': 'Pradžios data',
    'facet.starts_after': 'Prasideda po',
    'facet.starts_before': 'Prasideda iki',
    'facet.none': 'Nėra reikšmių',
    'chips': 'Taikomi filtrai',
    'chip.remove': 'Pašalinti filtrą: ',
    'chip.clear': 'Išvalyti viską',
    'chip.after': 'Prasideda po {d}',
    'chip.before': 'Prasideda iki {d}',
    'total.one': '{n} kursas',
    'total.few': '{n} kursai',
    'total.many': '{n} kursų',
    'total.other': '{n} kursų',
    'total.loading': 'Ieškoma…',
    'total.none': 'Kursų pagal jūsų paiešką nerasta.',
    'total.none_hint': 'Įveskite mažiau žodžių arba patikrinkite rašybą.',
    'total.none_filters': 'Pašalinkite filtrą arba išvalykite visus.',
    'results': 'Rezultatai',
    'more': 'Rodyti daugiau',
    'more.loading': 'Įkeliama…',
    'card.starts': 'Prasideda {d}',
    'card.ects': '{n} ECTS',
    'eqf': 'EQF {n}',
    'ects.band': 'Nuo {a} iki mažiau nei {b} ECTS',
    'ects.band_below': 'Mažiau nei {b} ECTS',
    'ects.band_open': '{a}+ ECTS',
    'ects.min': 'Ne mažiau kaip {a} ECTS',
    'ects.max': 'Ne daugiau kaip {b} ECTS',
    'mode.online': 'Nuotolinė',
    'mode.blended': 'Mišri',
    'mode.onsite': 'Kontaktinė',
    'price.free': 'Nemokamai',

    'offer.title': 'Kursas — mcx',
    'offer.back': 'Atgal į rezultatus',
    'offer.loading': 'Įkeliamas kursas…',
    'offer.not_found': 'Kursas nerastas',
    'offer.not_found_text': 'Tokio kurso nėra arba jis nebesiūlomas.',
    'offer.browse': 'Eiti į katalogą',
    'offer.facts': 'Svarbiausi faktai',
    'offer.provider': 'Teikėjas',
    'offer.country': 'Šalis',
    'offer.dates': 'Datos',
    'offer.deadline': 'Paraiškų terminas',
    'offer.mode': 'Forma',
    'offer.language': 'Kalba',
    'offer.ects': 'ECTS kreditai',
    'offer.eqf': 'EQF lygis',
    'offer.field': 'Sritis',
    'offer.price': 'Kaina',
    'offer.workload': 'Darbo krūvis',
    'offer.hours': '{n} val.',
    'offer.outcomes': 'Studijų rezultatai',
    'offer.description': 'Aprašymas',
    'offer.assessment': 'Vertinimas',
    'offer.qa': 'Kokybės užtikrinimas',
    'offer.prerequisites': 'Būtinos žinios',
    'offer.apply': 'Teikti paraišką',
    'offer.apply_hint': 'Užregistruojame jūsų paraišką ir nukreipiame į teikėjo puslapį jai užbaigti.',
    'offer.apply_login': 'Pirmiausia prisijunkite: po to grąžinsime jus čia.',
    'offer.applying': 'Registruojama jūsų paraiška…',
    'offer.applied': 'Paraiška užregistruota',
    'offer.applied_go': 'Nukreipiame į teikėjo puslapį…',
    'offer.applied_stay': 'Teikėjas neturi šio kurso puslapio: susisiekite su juo tiesiogiai.',
    'offer.homepage': 'Kurso puslapis teikėjo svetainėje',
    'offer.provider_homepage': 'Teikėjo svetainė',
    'offer.recognition': 'Kreditai jūsų universitete',

    'signup.title': 'Registracija — mcx',
    'signup.heading': 'Susikurkite paskyrą',
    'signup.lead': 'Teikite paraiškas kursams ir stebėkite jas vienoje vietoje.',
    'signup.name': 'Vardas',
    'signup.name_hint': 'Neprivaloma.',
    'signup.email': 'El. paštas',
    'signup.password': 'Slaptažodis',
    'signup.password_hint': 'Ne trumpesnis kaip 10 simbolių.',
    'signup.submit': 'Sukurti paskyrą',
    'signup.have': 'Jau turite paskyrą?',
    'signup.login': 'Eiti į prisijungimo puslapį',
    'signup.busy': 'Kuriama paskyra…',

    'login.title': 'Prisijungimas — mcx',
    'login.heading': 'Prisijungimas',
    'login.email': 'El. paštas',
    'login.password': 'Slaptažodis',
    'login.submit': 'Prisijungti',
    'login.none': 'Dar neturite paskyros?',
    'login.signup': 'Susikurti paskyrą',
    'login.busy': 'Jungiamasi…',

    'verify.title': 'Pažymėjimo patikra — mcx',
    'verify.heading': 'Mikrokredencialo patikra',
    'verify.loading': 'Tikrinamas registras…',
    'verify.valid': 'Galioja: šis kredencialas išduotas ir neatšauktas.',
    'verify.revoked': 'Atšauktas: išdavėjas šį kredencialą atšaukė.',
    'verify.unknown': 'Nežinomas: šis registras tokiu identifikatoriumi kredencialo neišdavė.',
    'verify.error': 'Registro dabar paklausti nepavyko. Bandykite vėliau.',
    'verify.learner': 'Suteiktas',
    'verify.course': 'Mikrokredencialas',
    'verify.issuer': 'Išdavė',
    'verify.issued': 'Išduotas',
    'verify.revoked_at': 'Atšauktas',
    'verify.reason': 'Priežastis',
    'verify.note': 'Šiame puslapyje rodoma tai, ką sako išdavėjo registras. Be vardo, jokių asmens duomenų nerodoma.',
    'me.title': 'Mano paraiškos — mcx',
    'me.heading': 'Mano paraiškos',
    'me.loading': 'Įkeliamos jūsų paraiškos…',
    'me.empty': 'Dar nepateikėte paraiškos nė vienam kursui.',
    'me.find': 'Rasti kursą',
    'me.signed_out': 'Jūs neprisijungę. Prisijunkite ir matysite kursus, kuriems pateikėte paraiškas.',
    'me.login': 'Eiti į prisijungimo puslapį',
    'me.applied': 'Paraiška pateikta {d}',
    'me.withdrawn': 'Nebesiūlomas',
    'me.signed_in_as': 'Prisijungėte kaip {who}.',

    'impact.title': 'Mainų poveikis — mcx',
    'impact.heading': 'Mainų poveikis',
    'impact.lead': 'Ką tinklo mikrokredencialai nuveikė per laikotarpį, kiekvieną mėnesį.',
    'impact.from': 'Nuo',
    'impact.to': 'Iki',
    'impact.show': 'Rodyti',
    'impact.figures': 'Rodikliai',
    'impact.period': '{from} – {to}',
    'impact.loading': 'Skaičiuojama…',
    'impact.exposed': 'Katalogu pasiekti studentai',
    'impact.applied': 'Paraiškos',
    'impact.issued': 'Išduoti kredencialai',
    'impact.mobilities': 'Pripažintas judumas',
    'impact.per_month': 'Pagal mėnesius',
    'impact.chart_label': 'Linijinė keturių rodiklių pagal mėnesius diagrama; tie patys skaičiai pateikti toliau esančioje lentelėje.',
    'impact.series_caption': 'Keturi rodikliai pagal mėnesius',
    'impact.month': 'Mėnuo',
    'impact.csv': 'Atsisiųsti CSV',
    'impact.by_institution': 'Pagal instituciją',
    'impact.error': 'Rodiklių dabar suskaičiuoti nepavyko. Bandykite vėliau.',
    'impact.note': 'Katalogu pasiektas studentas – tai naršyklė, kuri ieškojo kataloge, jame matė ar skaitė kursą; per laikotarpį skaičiuojama vieną kartą. Paraiškos, kredencialai ir judumas skaičiuojami tada, kai įvyksta.',

    'nav.queue': 'Eilė',
    'queue.title': 'Registratoriaus eilė — mcx',
    'queue.heading': 'Pripažinimo prašymai',
    'queue.lead': 'Prašymai pripažinti kreditus {inst}, su automatinių patikrų pasiūlymu.',
    'queue.loading': 'Įkeliama eilė…',
    'queue.login': 'Prisijunkite kaip registratorius',
    'queue.login_text': 'Šis puslapis skirtas registratoriams. Prisijunkite registratoriaus paskyra, kad matytumėte savo institucijos eilę.',
    'queue.forbidden': 'Šis puslapis skirtas registratoriams',
    'queue.forbidden_text': 'Esate prisijungę, tačiau pripažinimo prašymus sprendžia tik institucijos registratorius. Savo prašymus rasite paskyros puslapyje.',
    'queue.status': 'Būsena',
    'queue.status_all': 'Visi',
    'status.submitted': 'Pateiktas',
    'status.proposed': 'Pasiūlytas',
    'status.appealed': 'Apskųstas',
    'status.decided': 'Išspręstas',
    'queue.requests': 'Prašymai',
    'queue.col_status': 'Būsena',
    'queue.col_student': 'Studentas',
    'queue.col_credential': 'Kredencialas',
    'queue.col_issuer': 'Išdavėjas',
    'queue.col_ects': 'ECTS',
    'queue.col_proposal': 'Pasiūlymas',
    'queue.col_reasons': 'Priežasčių kodai',
    'queue.empty': 'Prašymų su šia būsena nėra.',
    'queue.error': 'Eilės dabar įkelti nepavyko. Bandykite vėliau.',
    'queue.back': 'Atgal į eilę',
    'queue.credential': 'Kredencialas',
    'queue.issuer': 'Išdavėjas',
    'queue.ects': 'ECTS',
    'queue.eqf': 'EQF lygis',
    'queue.grade_sent': 'Įvertinimas',
    'queue.awarded': 'Suteiktas',
    'queue.target': 'Įskaityti į',
    'queue.submitted': 'Pateiktas',
    'queue.proposal': 'Pasiūlymas',
    'queue.outcome': 'Sprendimas',
    'queue.credits': 'Kreditai',
    'queue.grade': 'Įvertinimas',
    'queue.agreement': 'Sutartis',
    'queue.rule': 'Taisyklė',
    'queue.none': 'Nėra',
    'queue.reasons_found': 'Kodėl reikia peržiūrėti',
    'queue.no_reasons': 'Visos patikros sėkmingos.',
    'queue.appeal': 'Apeliacija',
    'queue.audit': 'Veiksmų žurnalas',
    'queue.audit_when': 'Kada',
    'queue.audit_actor': 'Kas',
    'queue.audit_action': 'Veiksmas',
    'queue.audit_details': 'Išsamiau',
    'queue.decision': 'Sprendimas',
    'queue.decide': 'Įrašyti sprendimą',
    'queue.decide_hint': 'Priežastys privalomos, nebent sprendimas tiksliai atitinka pasiūlymą „pripažinta“ su jo kreditais ir įvertinimu.',
    'queue.reasons': 'Priežastys',
    'queue.reasons_hint': 'Žodžiais, kuriuos studentas galėtų perskaityti ir užginčyti.',
    'queue.submit': 'Įrašyti sprendimą',
    'queue.saving': 'Įrašoma…',
    'queue.decided': 'Išspręsta: {outcome}.',
    'queue.decided_at': 'Išspręsta {d}',
    'queue.after_appeal': 'po apeliacijos',
    'queue.not_found': 'Tokio prašymo nėra arba jis skirtas ne jūsų institucijai.',
    'outcome.recognised': 'Pripažinta',
    'outcome.partially_recognised': 'Pripažinta iš dalies',
    'outcome.not_recognised': 'Nepripažinta',
    'outcome.needs_review': 'Reikia peržiūrėti',
    'queue.agreements': 'Sutartys',
    'queue.ag_title': 'Pavadinimas',
    'queue.ag_parties': 'Šalys',
    'queue.ag_status': 'Būsena',
    'queue.ag_approvals': 'Patvirtino',
    'queue.ag_action': 'Veiksmas',
    'queue.ag_none': 'Jūsų institucija dar nėra jokios sutarties šalis.',
    'queue.approve': 'Patvirtinti maišą {hash}',
    'queue.approve_label': 'Patvirtinti sutarties „{title}“ maišą {hash}',
    'queue.approved': 'Patvirtinta. Sutarties būsena: {status}.',
    'ag.draft': 'Projektas',
    'ag.active': 'Galiojanti',
    'ag.terminated': 'Nutraukta',
  },
};

export const UI_LANGS = ['en', 'lt'];
export const UI_LANG_NAMES = { en: 'English', lt: 'Lietuvių' };

// Languages of instruction: names in each interface language (Lithuanian ones as
// adjectives in the nominative, capitalised for a list of choices).
const LANGUAGES = {
  en: {
    bg: 'Bulgarian', ca: 'Catalan', cs: 'Czech', da: 'Danish', de: 'German', el: 'Greek',
    en: 'English', es: 'Spanish', et: 'Estonian', eu: 'Basque', fi: 'Finnish', fr: 'French',
    ga: 'Irish', gl: 'Galician', hr: 'Croatian', hu: 'Hungarian', it: 'Italian',
    lt: 'Lithuanian', lv: 'Latvian', mt: 'Maltese', nl: 'Dutch', no: 'Norwegian', pl: 'Polish',
    pt: 'Portuguese', ro: 'Romanian', ru: 'Russian', sk: 'Slovak', sl: 'Slovenian',
    sv: 'Swedish', tr: 'Turkish', uk: 'Ukrainian',
  },
  lt: {
    bg: 'Bulgarų', ca: 'Katalonų', cs: 'Čekų', da: 'Danų', de: 'Vokiečių', el: 'Graikų',
    en: 'Anglų', es: 'Ispanų', et: 'Estų', eu: 'Baskų', fi: 'Suomių', fr: 'Prancūzų',
    ga: 'Airių', gl: 'Galisų', hr: 'Kroatų', hu: 'Vengrų', it: 'Italų', lt: 'Lietuvių',
    lv: 'Latvių', mt: 'Maltiečių', nl: 'Nyderlandų', no: 'Norvegų', pl: 'Lenkų',
    pt: 'Portugalų', ro: 'Rumunų', ru: 'Rusų', sk: 'Slovakų', sl: 'Slovėnų', sv: 'Švedų',
    tr: 'Turkų', uk: 'Ukrainiečių',
  },
};

const COUNTRIES = {
  en: {
    AT: 'Austria', BE: 'Belgium', BG: 'Bulgaria', CH: 'Switzerland', CY: 'Cyprus',
    CZ: 'Czechia', DE: 'Germany', DK: 'Denmark', EE: 'Estonia', ES: 'Spain', FI: 'Finland',
    FR: 'France', GB: 'United Kingdom', GR: 'Greece', HR: 'Croatia', HU: 'Hungary',
    IE: 'Ireland', IS: 'Iceland', IT: 'Italy', LT: 'Lithuania', LU: 'Luxembourg',
    LV: 'Latvia', MT: 'Malta', NL: 'Netherlands', NO: 'Norway', PL: 'Poland',
    PT: 'Portugal', RO: 'Romania', SE: 'Sweden', SI: 'Slovenia', SK: 'Slovakia',
    TR: 'Türkiye', UA: 'Ukraine',
  },
  lt: {
    AT: 'Austrija', BE: 'Belgija', BG: 'Bulgarija', CH: 'Šveicarija', CY: 'Kipras',
    CZ: 'Čekija', DE: 'Vokietija', DK: 'Danija', EE: 'Estija', ES: 'Ispanija',
    FI: 'Suomija', FR: 'Prancūzija', GB: 'Jungtinė Karalystė', GR: 'Graikija',
    HR: 'Kroatija', HU: 'Vengrija', IE: 'Airija', IS: 'Islandija', IT: 'Italija',
    LT: 'Lietuva', LU: 'Liuksemburgas', LV: 'Latvija', MT: 'Malta', NL: 'Nyderlandai',
    NO: 'Norvegija', PL: 'Lenkija', PT: 'Portugalija', RO: 'Rumunija', SE: 'Švedija',
    SI: 'Slovėnija', SK: 'Slovakija', TR: 'Turkija', UA: 'Ukraina',
  },
};

// ISCED-F 2013 broad (2 digits) and narrow (3 digits) fields. A narrow code ending
// in 8 is the broad field's inter-disciplinary programmes (ISCED-F 2013, §3.3).
const ISCED = {
  en: {
    '00': 'Generic programmes and qualifications', '01': 'Education',
    '02': 'Arts and humanities', '03': 'Social sciences, journalism and information',
    '04': 'Business, administration and law',
    '05': 'Natural sciences, mathematics and statistics',
    '06': 'Information and Communication Technologies',
    '07': 'Engineering, manufacturing and construction',
    '08': 'Agriculture, forestry, fisheries and veterinary', '09': 'Health and welfare',
    '10': 'Services', '99': 'Field unknown',
    '001': 'Basic programmes and qualifications', '002': 'Literacy and numeracy',
    '003': 'Personal skills and development', '011': 'Education', '021': 'Arts',
    '022': 'Humanities (except languages)', '023': 'Languages',
    '031': 'Social and behavioural sciences', '032': 'Journalism and information',
    '041': 'Business and administration', '042': 'Law',
    '051': 'Biological and related sciences', '052': 'Environment',
    '053': 'Physical sciences', '054': 'Mathematics and statistics',
    '061': 'Information and Communication Technologies',
    '071': 'Engineering and engineering trades', '072': 'Manufacturing and processing',
    '073': 'Architecture and construction', '081': 'Agriculture', '082': 'Forestry',
    '083': 'Fisheries', '084': 'Veterinary', '091': 'Health', '092': 'Welfare',
    '101': 'Personal services', '102': 'Hygiene and occupational health services',
    '103': 'Security services', '104': 'Transport services',
    'x8': 'Inter-disciplinary: {field}',
  },
  lt: {
    '00': 'Bendrosios programos ir kvalifikacijos', '01': 'Švietimas',
    '02': 'Menai ir humanitariniai mokslai',
    '03': 'Socialiniai mokslai, žurnalistika ir informacija',
    '04': 'Verslas, administravimas ir teisė',
    '05': 'Gamtos mokslai, matematika ir statistika',
    '06': 'Informacinės ir ryšių technologijos',
    '07': 'Inžinerija, gamyba ir statyba',
    '08': 'Žemės ūkis, miškininkystė, žuvininkystė ir veterinarija',
    '09': 'Sveikata ir gerovė', '10': 'Paslaugos', '99': 'Sritis nežinoma',
    '001': 'Pagrindinės programos ir kvalifikacijos', '002': 'Raštingumas ir skaičiavimas',
    '003': 'Asmeniniai įgūdžiai ir tobulėjimas', '011': 'Švietimas', '021': 'Menai',
    '022': 'Humanitariniai mokslai (išskyrus kalbas)', '023': 'Kalbos',
    '031': 'Socialiniai ir elgsenos mokslai', '032': 'Žurnalistika ir informacija',
    '041': 'Verslas ir administravimas', '042': 'Teisė',
    '051': 'Biologija ir susiję mokslai', '052': 'Aplinka', '053': 'Fiziniai mokslai',
    '054': 'Matematika ir statistika', '061': 'Informacinės ir ryšių technologijos',
    '071': 'Inžinerija ir inžinerinės profesijos', '072': 'Gamyba ir perdirbimas',
    '073': 'Architektūra ir statyba', '081': 'Žemės ūkis', '082': 'Miškininkystė',
    '083': 'Žuvininkystė', '084': 'Veterinarija', '091': 'Sveikata',
    '092': 'Socialinė gerovė', '101': 'Asmeninės paslaugos',
    '102': 'Higienos ir darbo sveikatos paslaugos', '103': 'Saugos paslaugos',
    '104': 'Transporto paslaugos',
    'x8': 'Tarpdalykinės programos: {field}',
  },
};

let current = pickLang();
const listeners = [];

// ?ui= first (and remembered), then the stored choice, then the browser's languages.
function pickLang() {
  const fromUrl = new URLSearchParams(location.search).get('ui');
  if (UI_LANGS.includes(fromUrl)) {
    store(fromUrl);
    return fromUrl;
  }
  const stored = read();
  if (UI_LANGS.includes(stored)) return stored;
  for (const tag of navigator.languages || [navigator.language || 'en']) {
    const primary = String(tag).toLowerCase().split('-')[0];
    if (UI_LANGS.includes(primary)) return primary;
  }
  return 'en';
}

function read() {
  try { return localStorage.getItem('mcx.ui'); } catch { return null; }
}

function store(lang) {
  try { localStorage.setItem('mcx.ui', lang); } catch { /* private mode: not remembered */ }
}

export function lang() {
  return current;
}

// Changes the interface language: remembered, written into ?ui= when the address has
// one (so the address still says what the page shows), then every listener re-renders.
export function setLang(lang) {
  if (!UI_LANGS.includes(lang) || lang === current) return;
  current = lang;
  store(lang);
  const url = new URL(location.href);
  if (url.searchParams.has('ui')) {
    url.searchParams.set('ui', lang);
    history.replaceState(history.state, '', url);
  }
  document.documentElement.lang = lang;
  applyStatic(document);
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.push(fn);
}

// t('rec.none', {home: 'VDU'}) — the string in the current language, with {name}
// placeholders filled; English when Lithuanian lacks the key; the key when both do.
export function t(key, vars) {
  let s = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  return s;
}

// "40 courses" / "1 kursas" / "12 kursų": Lithuanian has three plural forms.
export function plural(prefix, n) {
  return t(`${prefix}.${pluralCategory(n)}`, { n: formatNumber(n) });
}

function pluralCategory(n) {
  if (current === 'lt') {
    const d = n % 10, h = n % 100;
    if (d === 1 && (h < 11 || h > 19)) return 'one';
    if (d >= 2 && d <= 9 && (h < 11 || h > 19)) return 'few';
    return 'many';
  }
  return n === 1 ? 'one' : 'other';
}

// Sets the text of every [data-i18n] element, and the attributes named in
// data-i18n-attr ("placeholder:cat.search_placeholder;aria-label:x").
export function applyStatic(root) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      el.setAttribute(attr, t(key));
    }
  }
  const title = document.querySelector('meta[name="mcx-title"]');
  if (title) document.title = t(title.content);
}

// A language map ({"en": "…", "lt": "…"}): the interface language, else English,
// else the first entry. Returns {text, lang} so a page can mark the text's language.
export function pick(map) {
  if (!map || typeof map !== 'object') return { text: '', lang: '' };
  for (const l of [current, 'en']) {
    if (typeof map[l] === 'string' && map[l] !== '') return { text: map[l], lang: l };
  }
  for (const [l, text] of Object.entries(map)) {
    if (typeof text === 'string' && text !== '') return { text, lang: l };
  }
  return { text: '', lang: '' };
}

export function pickText(map) {
  return pick(map).text;
}

function fromIntl(type, code) {
  try {
    const name = new Intl.DisplayNames([current], { type }).of(code);
    return name && name !== code ? name.charAt(0).toUpperCase() + name.slice(1) : '';
  } catch {
    return '';
  }
}

export function languageName(code) {
  return LANGUAGES[current][code] || fromIntl('language', code) || code;
}

export function countryName(code) {
  if (!code) return '';
  return COUNTRIES[current][code] || fromIntl('region', code) || code;
}

export function modeName(mode) {
  return mode ? t(`mode.${mode}`) : '';
}

// The most precise name known for an ISCED-F code: narrow (3 digits) else broad.
export function iscedName(code) {
  const names = ISCED[current];
  const narrow = code.slice(0, 3);
  if (narrow.length === 3 && names[narrow]) return names[narrow];
  if (narrow.length === 3 && narrow[2] === '8' && names[code.slice(0, 2)]) {
    return names.x8.replace('{field}', names[code.slice(0, 2)]);
  }
  return names[code.slice(0, 2)] || code;
}

export function formatNumber(n) {
  return new Intl.NumberFormat(current === 'lt' ? 'lt-LT' : 'en-GB').format(n);
}

// Dates as "25 Jan 2027" / "2027 m. sausio 25 d."; the input is YYYY-MM-DD or RFC 3339.
export function formatDate(value) {
  if (!value) return '';
  const d = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T12:00:00Z`) : new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  return new Intl.DateTimeFormat(current === 'lt' ? 'lt-LT' : 'en-GB', {
    year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC',
  }).format(d);
}

export function formatPrice(price) {
  if (!price || typeof price.amount !== 'number') return '';
  if (price.amount === 0) return t('price.free');
  if (!price.currency) return formatNumber(price.amount);
  try {
    return new Intl.NumberFormat(current === 'lt' ? 'lt-LT' : 'en-GB', {
      style: 'currency', currency: price.currency,
      minimumFractionDigits: Number.isInteger(price.amount) ? 0 : 2, maximumFractionDigits: 2,
    }).format(price.amount);
  } catch {
    return `${formatNumber(price.amount)} ${price.currency}`;
  }
}
