"""Every interface text the dialog shows, in plain Italian (the source language).

Kept in one place so that writers can read them together, tests can check that each one is
easy to read (Gulpease index >= 60, questions under 30 words), and `pybabel extract -k N_`
finds them for translators. Placeholders use the python-format `%(name)s`.
"""

from bot.i18n import N_

WELCOME = N_("Ciao! Sono Orienta, il bot della cooperativa Progetto Integrazione. "
             "Ti aiuto a trovare il servizio giusto per te. Ti faccio 3 domande.")
WELCOME_BACK = N_("Bentornato! Continuiamo da dove eravamo.")

UNDERSTOOD = N_("Ho capito: %(what)s.")

ASK_COMUNE = N_("In quale comune abiti?")
ASK_COMUNE_HINT = N_("Tocca un pulsante o scrivi il nome del comune.")
CHOOSE_COMUNE = N_("Ci sono più comuni con questo nome. Quale è il tuo?")
DID_YOU_MEAN = N_("Intendi questo comune? Tocca il nome o scrivilo di nuovo.")
TOO_MANY_COMUNI = N_("Ci sono tanti comuni con questo nome. Scrivi il nome completo, "
                     "per esempio %(example)s.")
COMUNE_NOT_FOUND = N_("Non trovo il comune «%(text)s». Scrivi di nuovo il nome, "
                      "per esempio Sesto San Giovanni.")
OUTSIDE_AREA = N_("%(comune)s è fuori dalla zona dove la cooperativa ha i suoi servizi. "
                  "Qui sotto trovi chi puoi contattare.")
OUTSIDE_AREA_ITALY = N_("In tutta Italia c'è anche questo aiuto:")
OUTSIDE_AREA_NEXT = N_("Se abiti in un altro comune, scrivi il nome.")
LOCATION_OUTSIDE = N_("Questo posto è fuori dalla zona dove la cooperativa ha i suoi servizi.")
LOCATION_FOUND = N_("Dalla posizione: %(comune)s.")

ASK_AGE = N_("Quanti anni ha la persona che ha bisogno di aiuto?")
ASK_AGE_HINT = N_("Tocca un pulsante o scrivi l'età, per esempio 9.")
AGE_NOT_UNDERSTOOD = N_("Non ho capito l'età. Scrivi solo un numero, per esempio 9.")

ASK_NEED = N_("Di che cosa hai bisogno?")
ASK_NEED_HINT = N_("Tocca un pulsante o scrivi con parole tue.")
NEED_NOT_UNDERSTOOD = N_("Non ho capito di che cosa hai bisogno. Tocca un pulsante.")

ASK_MUNICIPIO = N_("In quale Municipio di Milano abiti?")
ASK_MUNICIPIO_HINT = N_("Alcuni servizi sono solo per alcuni Municipi.")
MUNICIPIO_LABEL = N_("Municipio %(number)s")
MUNICIPIO_UNKNOWN = N_("Non lo so")

RESULTS = N_("Ecco cosa c'è per te:")
RESULTS_FAMILY = N_("Ecco cosa c'è per ognuno:")
FOR_AGE = N_("Per chi ha %(age)s:")
ALSO_ABOVE = N_("Anche «%(name)s», qui sopra.")
AND = N_("%(first)s e %(last)s")
RESULTS_NONE = N_("Non ho trovato un servizio per: %(need)s, %(age)s, a %(comune)s.")
RESULTS_NONE_HERE = N_("La cooperativa lavora a %(comune)s. Qui non conosco un suo servizio per: "
                       "%(need)s, %(age)s.")
RESULTS_MORE = N_("Ci sono anche altri servizi. Tocca il nome per leggerlo:")
NEED_NOT_ACTIVE = N_("Per ora non conosco un servizio attivo per: %(need)s.")
SAFETY_THEN = N_("Se vuoi, ti aiuto anche a trovare un servizio della cooperativa.")
RESULTS_OTHER_NEEDS = N_("A %(comune)s ci sono servizi per queste cose. Tocca un pulsante:")
RESULTS_ALWAYS = N_("Puoi sempre chiedere alla cooperativa:")
RESULTS_NEXT = N_("Vuoi cercare altro?")

WHY = N_("Va bene per te: %(place)s, %(age)s, %(need)s.")
PLACE_MUNICIPI = N_("%(comune)s (solo Municipi %(municipi)s)")
PHONE = N_("Telefono: %(value)s")
EMAIL = N_("E-mail: %(value)s")
WEB = N_("Sito: %(value)s")
ADDRESS = N_("Indirizzo: %(value)s")
TO_CONFIRM = N_("(da confermare)")
NO_CONTACTS = N_("Non abbiamo contatti pubblici per questo servizio.")
HOURS = N_("Orari:")
BY_APPOINTMENT = N_("solo su appuntamento")
HOURS_OLD = N_("Orari del %(year)s, forse cambiati:")
ALWAYS_OPEN = N_("Risponde 24 ore su 24, tutti i giorni.")
PATRON_DAY = N_("Nel giorno del santo patrono del comune può essere chiuso.")
MAY_HAVE_ENDED = N_("Questo servizio potrebbe non essere più attivo.")
FACTS_OF = N_("Informazioni di %(month)s.")
FACTS_UNDATED = N_("Queste informazioni non hanno una data.")
CALL_FIRST = N_("Telefona prima di andare: %(phone)s.")
WRITE_FIRST = N_("Prima di andare, scrivi una e-mail.")
HOURS_NOT_PUBLISHED = N_("Orari: non pubblicati.")
OPEN_NOW = N_("Aperto adesso, fino alle %(time)s.")
OPENS_AT = N_("Apre %(day)s alle %(time)s.")
HOLIDAY_TODAY = N_("Oggi è festa: è chiuso.")
ENDED = N_("Il servizio «%(name)s» è finito e non è più attivo.")

BUTTON_CHANGE_NEED = N_("Altro bisogno")
BUTTON_CHANGE_COMUNE = N_("Altro comune")
BUTTON_RESTART = N_("Ricomincia")
BUTTON_LANGUAGE = N_("Lingua")
BUTTON_MORE = N_("Cerca altri servizi")

CHOOSE_LANGUAGE = N_("Scegli la lingua.")
LANGUAGE_SET = N_("Va bene, parliamo in italiano.")
NOT_SPOKEN_YET = N_("Non parlo ancora %(language)s. Ti scrivo in %(other)s. "
                    "Per un'altra lingua scrivi /language.")

HELP = N_("Ti aiuto a trovare i servizi della cooperativa. Ti faccio 3 domande: "
          "dove abiti, quanti anni ha chi ha bisogno, che cosa ti serve. "
          "Per ricominciare scrivi /restart. Per tornare indietro scrivi /back. "
          "Per la lingua scrivi /language. Per sapere quali dati tengo scrivi /privacy. "
          "Per cancellare i tuoi dati scrivi /forget.")
BACK_AT_START = N_("Sei già alla prima domanda.")
BACK_UNDONE = N_("Ho tolto: %(what)s.")
RESTARTED = N_("Ricominciamo.")
FORGOTTEN = N_("Ho cancellato tutti i tuoi dati. Non posso cancellare questa chat nella tua app: "
               "puoi cancellarla tu. Scrivi /start per ricominciare.")
# /privacy, in plain words (GDPR art. 13): who answers for the data, what is kept and for how
# long, what the counts hold, how to erase. It must stay true to bot.store and bot.pseudonyms.
PRIVACY = N_("Chi tiene i tuoi dati: %(name)s. Contatti: %(contacts)s.\n"
             "Cosa tengo: le tue risposte (comune, età, che cosa ti serve) e la tua lingua. "
             "Non tengo il tuo nome e non tengo i tuoi messaggi. "
             "Non tengo il tuo numero: ti riconosco da un codice segreto. "
             "Il numero mi serve solo per mandarti la risposta. Lo tengo chiuso in codice "
             "e lo cancello appena la risposta parte.\n"
             "Per quanto tempo: %(period)s dal tuo ultimo messaggio. Poi cancello tutto.\n"
             "Conto quante persone chiedono aiuto, per comune e per bisogno, senza sapere chi sono. "
             "Questi numeri non dicono niente di te.\n"
             "Per cancellare tutto adesso scrivi /forget. "
             "Questa chat resta nella tua app: puoi cancellarla tu.")
PRIVACY_COUNTS = N_("I numeri che conto restano anche dopo /forget: non dicono chi sei.")
# When a person of the cooperative answers (/persona, the hand-off to the operators' group).
PRIVACY_PERSON = N_("Se chiedi una persona, i tuoi messaggi vanno alle persone della cooperativa, "
                    "in un gruppo Telegram. Loro li leggono e li tengono.")
PERSON_ASKED = N_("Ho chiesto a una persona della cooperativa. Ti risponde qui, in questa chat. "
                  "Può volerci un po' di tempo. Intanto io non rispondo. Per tornare da me scrivi /bot.")
PERSON_LATER = N_("Adesso nessuno legge i messaggi. Una persona li legge %(day)s dalle %(time)s.")
PERSON_NO_ANSWER = N_("Scusa, nessuno ti ha ancora risposto. La tua richiesta resta aperta. "
                      "Puoi anche scrivere o telefonare alla cooperativa: %(contacts)s")
PERSON_WAITING = N_("Hai già chiesto una persona: ti risponde qui. Per tornare da me scrivi /bot.")
NO_PERSON = N_("Qui non c'è ancora una persona che ti risponde. Scrivi alla cooperativa: %(contacts)s")
FROM_PERSON = N_("Una persona della cooperativa:")
PERSON_DONE = N_("La persona della cooperativa ha chiuso la conversazione. Ora ti rispondo di nuovo io.")
BACK_TO_BOT = N_("Va bene, ora ti rispondo di nuovo io.")
BUTTON_PERSON = N_("Parla con una persona")
# The desk card (bot.dialogs.desk_card): Italian first, for the clerk; then the family's language.
BUTTON_DESK_CARD = N_("Biglietto per lo sportello")
DESK_CARD_INTRO = N_("Ecco il biglietto. Mostralo allo sportello o mandalo a chi ti aiuta.")
DESK_CARD_TITLE = N_("Da mostrare allo sportello")
DESK_REQUEST = N_("Cerco aiuto: %(need)s. Età: %(age)s. Comune: %(comune)s. Parlo %(language)s.")
PRIVACY_POINTER = N_("Per sapere quali dati tengo e come cancellarli scrivi /privacy.")
STALE_BUTTON = N_("Questo menu non vale più. Ecco la domanda di adesso.")
UNKNOWN_COMMAND = N_("Non conosco questo comando. Scrivi /help per vedere i comandi.")
NOT_TEXT = N_("Non posso leggere foto, audio o adesivi. Scrivi un messaggio o tocca un pulsante.")
NOT_UNDERSTOOD = N_("Non ho capito. Tocca un pulsante o scrivi /help.")
SORRY = N_("Scusa, c'è stato un problema. Riprova tra poco.")
LATE = N_("Scusa se ti rispondo tardi. Ecco dove eravamo.")
SLOW_DOWN = N_("Mi hai scritto tanti messaggi. Aspetta un minuto, poi scrivi di nuovo.")

# The bot's profile and command menu (set for every language at start-up), and channel notices.
BOT_DESCRIPTION = N_("Ti aiuto a trovare i servizi della cooperativa Progetto Integrazione "
                     "per le persone straniere. Dimmi dove abiti, quanti anni ha chi ha bisogno "
                     "e che cosa ti serve.")
BOT_SHORT_DESCRIPTION = N_("Servizi per persone straniere a Milano e dintorni.")
CMD_START = N_("Inizia")
CMD_RESTART = N_("Ricomincia da capo")
CMD_BACK = N_("Torna alla domanda prima")
CMD_LANGUAGE = N_("Cambia lingua")
CMD_HELP = N_("Come funziona")
CMD_FORGET = N_("Cancella i tuoi dati")
CMD_PRIVACY = N_("I tuoi dati e la privacy")
CMD_PERSON = N_("Parla con una persona")
CMD_BOT = N_("Torna al bot")
PRIVATE_ONLY = N_("Rispondo solo nelle chat private. Scrivimi qui: %(link)s")
# Menus where a channel shows options as a list (WhatsApp): the button that opens it, and
# the row that shows the next options when they do not fit.
LIST_BUTTON = N_("Scegli")
MORE_OPTIONS = N_("Altre scelte")
