package synthetic

// The word, name and hashtag tables are constants split once per Generator
// (see newCorpus), so the package holds no mutable state. Entries are separated
// by "|" so that a table entry may contain spaces.

// Words per language. Japanese is written without spaces between words, as
// it is on the platform.
const (
	wordsEN = "just|got|the|new|today|this|is|so|good|love|my|friends|can't|wait|for|weekend|really|happy|with|how|about|we|going|to|see|you|at|game|tonight|what|a|great|time|people|think|it|was|best|show|ever|never|again|coffee|morning|work|music|release|update|thanks|everyone|who|came|out|finally|here|check|new|post|lol|omg|yes|no|maybe|city|world|news|live|stream|read|thread|important|please|share|support|team|win|lost|season|final|vote"
	wordsES = "hoy|es|un|gran|día|para|todos|los|amigos|que|bueno|estar|aquí|gracias|por|todo|el|apoyo|vamos|equipo|partido|noche|mañana|nuevo|canción|me|encanta|mucho|qué|pasa|con|esto|jajaja|nunca|siempre|mundo|ciudad|fútbol|música|café|trabajo|fin|de|semana|increíble|niños|año|corazón|sueño"
	wordsPT = "hoje|é|um|ótimo|dia|para|todos|amigos|que|bom|estar|aqui|obrigado|pelo|apoio|vamos|time|jogo|noite|amanhã|novo|música|eu|amo|muito|não|acredito|isso|kkkk|nunca|sempre|mundo|cidade|futebol|café|trabalho|fim|de|semana|incrível|coração|saudade|ação|irmão|são|paulo"
	wordsFR = "aujourd'hui|c'est|une|belle|journée|pour|tous|les|amis|merci|beaucoup|pour|votre|soutien|allez|l'équipe|match|ce|soir|demain|nouveau|chanson|j'adore|vraiment|pas|possible|toujours|jamais|monde|ville|café|travail|week-end|génial|cœur|été|très|déjà|où|ça"
	wordsTR = "bugün|çok|güzel|bir|gün|herkese|teşekkürler|destek|için|hadi|takım|maç|bu|akşam|yarın|yeni|şarkı|bayıldım|gerçekten|asla|her|zaman|dünya|şehir|kahve|iş|hafta|sonu|harika|kalp|ışık|güneş|öğretmen|çiçek|değil|mı"
	wordsRU = "сегодня|очень|хороший|день|для|всех|друзей|спасибо|за|поддержку|давай|команда|матч|вечером|завтра|новый|песня|обожаю|правда|никогда|всегда|мир|город|кофе|работа|выходные|круто|сердце|это|как|понимаю|подкаст|новости|люблю|жизнь"
	wordsAR = "اليوم|يوم|جميل|جدا|شكرا|لكل|الأصدقاء|على|الدعم|يلا|الفريق|مباراة|الليلة|غدا|أغنية|جديدة|أحب|هذا|كثيرا|دائما|أبدا|العالم|المدينة|قهوة|العمل|نهاية|الأسبوع|رائع|القلب|الله|صباح|الخير|مساء|النور"
	wordsHI = "आज|बहुत|अच्छा|दिन|है|सभी|दोस्तों|को|धन्यवाद|समर्थन|के|लिए|चलो|टीम|मैच|रात|कल|नया|गाना|मुझे|पसंद|सच|में|हमेशा|कभी|नहीं|दुनिया|शहर|चाय|काम|सप्ताहांत|शानदार|दिल|भारत|जीत"
	wordsKO = "오늘|정말|좋은|하루|모두|친구들|감사합니다|응원|해주셔서|가자|팀|경기|오늘밤|내일|새로운|노래|너무|좋아요|진짜|항상|절대|세상|도시|커피|일|주말|최고|마음|사랑해|축하해|컴백|무대|기대|중|ㅋㅋㅋ"
	wordsJA = "今日は|とても|いい|天気|ですね|みんな|ありがとう|応援|して|くれて|明日|新しい|曲が|大好き|本当に|いつも|世界|東京|コーヒー|仕事|週末|最高|心から|楽しみ|です|！|。|、|ライブ|配信|開始|しました|よろしく|お願いします|草|www"
)

// Emoji, including sequences of several code points (skin tone, ZWJ, flags,
// variation selector) so entity indices are tested against code points, not
// graphemes.
const emojiList = "😂|❤️|🔥|😍|🙏|👍🏽|✨|🎉|😭|💯|🥺|👨‍👩‍👧|🇯🇵|🇧🇷|🇰🇷|⚽|🎶|☕|🌈|💔"

// Given names and family names per script, for display names.
const (
	namesLatin    = "Shay|Brad|Dave|Ana|Lucas|María|João|Camille|Emre|Ayşe|Sofia|Mateo|Chloé|Liam|Olivia|Noah|Zoë|Ingrid|Kwame|Priya"
	surnamesLatin = "Taylor|Fitzpatrick|Cheney|Silva|García|Santos|Dubois|Yılmaz|Kaya|Rossi|Müller|Smith|Johnson|Costa|Martin|Öztürk|Nguyen|Okafor|Patel|Kim"
	namesJA       = "さくら|ゆい|はると|あおい|蓮|陽葵|湊|結愛|大翔|凛"
	namesKO       = "기적은너야|민지|서준|하은|지호|수아|도윤|예린|OHMYGIRL팬|별빛"
	namesRU       = "Алексей|Мария|Дмитрий|Анна|Иван|Ольга|Сергей|Наталья|Павел|Елена"
	namesAR       = "محمد|فاطمة|أحمد|نورة|عبدالله|سارة|خالد|مريم|يوسف|ليلى"
	namesHI       = "आरव|अनन्या|विहान|दिया|अर्जुन|सान्वी|रोहन|प्रिया|कबीर|ईशा"
)

// Screen-name stems (ASCII only, as handles are).
const handleStems = "thpoons|bradfitz|jmoiron|davecheney|gopher|sakura|minji|luz|joao|camille|emre|sasha|noura|arjun|kpopfan|golangdev|nightowl|coffeebean|pixel|tokyo|seoul|rio|paris|istanbul|moscow|cairo|delhi|retro|indie|daily|real|the|its|not|just|official|news|music|art|dev"

// Profile descriptions (two are picked and joined).
const descriptions = "hacker, traveler, runner, optimist, gopher|coffee first|views are my own|오마이걸에 인생배팅❤️|音楽とアニメが好き|amo música e futebol ⚽|Desarrolladora de software|Journaliste indépendante|Yazılım geliştirici|Программист и музыкант|مهندس برمجيات|संगीत प्रेमी|building things on the internet|she/her|he/him|they/them|🌈 living my best life|photography 📷|NBA • NFL • F1|open source maintainer|cat person 🐈|plant parent 🌱|PhD student|dad of two|K-pop stan account|not a bot (probably)"

const locations = "|San Francisco, CA|Tokyo|서울|São Paulo|Paris, France|İstanbul|Москва|القاهرة|Mumbai|Madrid|Ciudad de México|Lagos|Berlin|earth|🌍|somewhere"

// Tweet clients, as the HTML anchor v1.1 puts in "source".
const sources = `<a href="http://twitter.com/download/iphone" rel="nofollow">Twitter for iPhone</a>|<a href="http://twitter.com/download/android" rel="nofollow">Twitter for Android</a>|<a href="https://mobile.twitter.com" rel="nofollow">Twitter Web App</a>|<a href="http://twitter.com" rel="nofollow">Twitter Web Client</a>|<a href="https://about.twitter.com/products/tweetdeck" rel="nofollow">TweetDeck</a>|<a href="http://instagram.com" rel="nofollow">Instagram</a>|<a href="https://buffer.com" rel="nofollow">Buffer</a>`

// Link targets for url entities.
const linkHosts = "github.com/golang/go|blog.golang.org/go1.6|naver.me/5g6Y0bjU|youtu.be/dQw4w9WgXcQ|instagram.com/p/B2o7|www.nytimes.com/2019/09/19/world|bit.ly/3xYzAbc|notifuse.com/stickers|medium.com/@dev/why-go|news.ycombinator.com/item"

// Hashtag vocabulary head: real, frequent tags in several scripts. The rest of
// the vocabulary is compounds of hashtagParts.
const hashtagHead = "nowplaying|ff|jobs|golang|music|love|news|OHMYGIRL|오마이걸|BTS|방탄소년단|拡散希望|相互フォロー|日本|新曲|kpop|anime|football|futebol|fútbol|NBA|F1|WorldCup|AI|tech|crypto|bitcoin|art|photography|travel|food|coffee|MondayMotivation|TBT|giveaway|election|climate|science|space|NASA|netflix|books|gaming|esports|новости|футбол|россия|भारत|क्रिकेट|बॉलीवुड|مصر|السعودية|كرة_القدم|رمضان|türkiye|galatasaray|BBB|Bolsonaro|CopaAmérica|Paris2024|OMG|http2|rustlang|python|javascript|reactjs|nodejs|devops|cloud|serverless|aws|kinesis|datascience|startup|design|fitness|weekend|sunset|summer|winter|throwback|selfie|tbt|ootd|mood|happy|blessed|fail|win|live"

const hashtagParts = "music|game|news|love|day|night|life|art|tech|dev|code|data|cloud|team|fan|live|show|film|book|food|trip|city|world|sport|goal|win|cup|vibe|mood|style"

// Profile colour schemes: background, link, sidebar border, sidebar fill,
// text. The first is the default profile.
const profileColors = "F5F8FA,1DA1F2,C0DEED,DDEEF6,333333|000000,1950F0,000000,000000,000000|C0DEED,0084B4,FFFFFF,DDEEF6,333333|1A1B1F,BFA446,000000,252429,666666"
